#!/usr/bin/env python3
"""Repairs the metadata of a checkpoint written by alexnet-train before
gst-alexnet 0.1.1 in a locale whose decimal point is a comma (de_DE,
fr_FR...): such versions wrote numbers with the locale's printf, so the
file holds e.g. "normalization": {"mean":[0,485000014,0,456,0,405999988],
...} and "learning_rate": "0,0149", which alexnet-infer refuses. The
weights are intact; only those texts are rewritten.

  tools/repair-comma-checkpoint.py model.safetensors [-o fixed.safetensors]
      [--mean R G B --std R G B]

Inside a JSON object a comma between two digits can only be a decimal
comma (a member is always followed by a quoted key), so objects repair
exactly. In an array it is ambiguous: [0,5,1] may be [0.5, 1] or [0, 5.1].
For the normalisation's 3-number arrays the tool pairs 6 integers into 3
decimals and keeps 3 as they are; other counts are ambiguous and need
--mean and --std (the dataset-stats file's values, or 0 0 0 / 1 1 1).

Standard library only; writes atomically (a temporary file, then a
rename) and never touches the tensors' bytes. Exit status 0 when written
(or nothing needed repair), 1 on an error, 2 when values must be given."""
import argparse
import json
import os
import re
import struct
import sys
import tempfile

# digits ',' digits [exponent], as a value inside an object
OBJECT_NUMBER = re.compile(r'(:\s*-?\d+),(\d+(?:[eE][-+]?\d+)?)(?=\s*[,}])')
ARRAY = re.compile(r'"(mean|std)"\s*:\s*\[([^\]]*)\]')


def strict_json(text):
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError('duplicate key')
        return dict(items)
    return json.loads(text, object_pairs_hook=pairs,
                      parse_constant=lambda c: (_ for _ in ()).throw(
                          ValueError('non-finite number ' + c)))


def repair_arrays(text, given):
    def fix(m):
        name, body = m.group(1), m.group(2)
        if name in given:
            vals = given[name]
        else:
            tokens = [t.strip() for t in body.split(',')]
            if not all(re.fullmatch(r'-?\d+(?:[eE][-+]?\d+)?', t)
                       for t in tokens):
                return m.group(0)
            if len(tokens) == 6:
                vals = [float(tokens[i] + '.' + tokens[i + 1])
                        for i in (0, 2, 4)]
            elif len(tokens) == 3:
                vals = [float(t) for t in tokens]
            else:
                raise ValueError('the "%s" array [%s] is ambiguous: give '
                                 '--mean and --std' % (name, body))
        return '"%s":[%s]' % (name, ','.join(repr(float(v)) for v in vals))
    return ARRAY.sub(fix, text)


def repair_value(key, value, given):
    if key == 'learning_rate':
        return value.replace(',', '.') if re.fullmatch(
            r'-?\d+,\d+(?:[eE][-+]?\d+)?', value) else value
    if not value.startswith('{'):
        return value
    try:
        parsed = strict_json(value)
        # valid JSON; the normalisation must also hold 3 numbers per array
        # (with decimal commas it is valid JSON of 6 integers)
        if key != 'normalization' or all(
                len(parsed.get(k, [])) == 3 for k in ('mean', 'std')):
            return value
    except ValueError:
        pass
    fixed = OBJECT_NUMBER.sub(r'\1.\2', value)
    if key == 'normalization':
        fixed = repair_arrays(fixed, given)
    strict_json(fixed)          # raises when still not JSON
    return fixed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('checkpoint')
    ap.add_argument('-o', '--output', help='write here (default: in place)')
    ap.add_argument('--mean', type=float, nargs=3)
    ap.add_argument('--std', type=float, nargs=3)
    a = ap.parse_args()
    given = {}
    if a.mean:
        given['mean'] = a.mean
    if a.std:
        given['std'] = a.std
    with open(a.checkpoint, 'rb') as f:
        data = f.read()
    if len(data) < 8:
        sys.exit('%s: too short for a safetensors file' % a.checkpoint)
    (n,) = struct.unpack('<Q', data[:8])
    if n > len(data) - 8 or n > 100 << 20:
        sys.exit('%s: header length %d is past the end' % (a.checkpoint, n))
    header = strict_json(data[8:8 + n].decode('utf-8'))
    meta = header.get('__metadata__', {})
    changed = []
    for key in sorted(meta):
        try:
            new = repair_value(key, meta[key], given)
        except ValueError as e:
            print('%s: metadata %r: %s' % (a.checkpoint, key, e),
                  file=sys.stderr)
            return 2
        if new != meta[key]:
            changed.append((key, meta[key], new))
            meta[key] = new
    if not changed:
        print('%s: nothing to repair' % a.checkpoint)
        return 0
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False)
    raw = text.encode('utf-8')
    raw += b' ' * (-len(raw) % 8)
    out = a.output or a.checkpoint
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out)),
                               prefix='.repair-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(struct.pack('<Q', len(raw)) + raw + data[8 + n:])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    for key, old, new in changed:
        print('%s: %s: %s -> %s' % (out, key, old, new))
    return 0


if __name__ == '__main__':
    sys.exit(main())
