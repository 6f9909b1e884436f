#!/usr/bin/env python3
"""The files gst-alexnet wrote under LC_ALL=de_DE.UTF-8, checked with a
strict JSON parser (Python's json with duplicate keys, NaN and Infinity
refused) and exact values; the checkpoint read as Python's safetensors
reads it (the header rules of safetensors, standard library only: no
PyPI in CI). Called by tests/locale/test_locale.sh.

  check_files.py DIR LEARNING_RATE CLASS_NAME...
  check_files.py make-comma IN.safetensors OUT.safetensors

DIR holds stats-C.json, stats-de.json, metrics.jsonl, model.safetensors,
results-C.jsonl, results-de.jsonl. Prints what it checked; exit 1 with the
reason on the first failure."""
import json
import os
import struct
import sys


class Bad(Exception):
    pass


def strict(text, where):
    def pairs(items):
        keys = [k for k, _ in items]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise Bad('%s: duplicate key %s' % (where, sorted(dup)[0]))
        return dict(items)

    def constant(c):
        raise Bad('%s: %s is not JSON' % (where, c))
    try:
        return json.loads(text, object_pairs_hook=pairs,
                          parse_constant=constant)
    except ValueError as e:
        raise Bad('%s: not strict JSON: %s: %.120r' % (where, e, text))


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def expect(cond, what):
    if not cond:
        raise Bad(what)


def read_safetensors(path):
    """The checks safetensors' reader makes (safetensors/src/tensor.rs):
    8-byte little-endian header size, a JSON object header, metadata a map
    of strings, every tensor a known dtype with a shape and data offsets
    that tile the buffer exactly."""
    data = open(path, 'rb').read()
    expect(len(data) >= 8, '%s: shorter than 8 bytes' % path)
    (n,) = struct.unpack('<Q', data[:8])
    expect(n <= 100_000_000 and 8 + n <= len(data),
           '%s: header size %d' % (path, n))
    header = strict(data[8:8 + n].decode('utf-8'), path + ' header')
    expect(isinstance(header, dict), '%s: header not an object' % path)
    meta = header.pop('__metadata__', {})
    expect(all(isinstance(k, str) and isinstance(v, str)
               for k, v in meta.items()),
           '%s: __metadata__ is not a map of strings' % path)
    sizes = {'F32': 4, 'F16': 2, 'BF16': 2, 'I64': 8, 'U8': 1}
    spans = []
    for name, t in header.items():
        expect(t['dtype'] in sizes, '%s: %s dtype %s' % (path, name,
                                                         t['dtype']))
        count = 1
        for d in t['shape']:
            expect(isinstance(d, int) and d >= 0, '%s: %s shape' % (path,
                                                                    name))
            count *= d
        b, e = t['data_offsets']
        expect(e - b == count * sizes[t['dtype']],
               '%s: %s offsets do not match its shape' % (path, name))
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        expect(b == pos, '%s: tensors do not tile the buffer' % path)
        pos = e
    expect(8 + n + pos == len(data), '%s: %d bytes after the header, the '
           'tensors cover %d' % (path, len(data) - 8 - n, pos))
    return meta, header


def main(d, lr, classes):
    lr = float(lr)
    # statistics: written the same in both locales, byte for byte
    stats_c = open(os.path.join(d, 'stats-C.json'), 'rb').read()
    stats_de = open(os.path.join(d, 'stats-de.json'), 'rb').read()
    expect(stats_c == stats_de, 'stats-de.json differs from stats-C.json')
    stats = strict(stats_de.decode('utf-8'), 'stats-de.json')
    expect(stats['format'] == 'gst-alexnet-stats' and stats['images'] > 0,
           'stats-de.json: %r' % stats)
    for key in ('mean', 'std', 'eigenvalues'):
        expect(len(stats[key]) == 3 and all(isinstance(v, float)
                                            for v in stats[key]),
               'stats-de.json: %s %r' % (key, stats[key]))
    print('stats: strict, identical in C and de_DE, mean %r' % stats['mean'])

    # metrics: every line strict; the learning rate exactly the property's
    lines = open(os.path.join(d, 'metrics.jsonl'), encoding='utf-8') \
        .read().splitlines()
    expect(len(lines) >= 2, 'metrics.jsonl: %d lines' % len(lines))
    n_lr = 0
    for i, line in enumerate(lines):
        m = strict(line, 'metrics.jsonl line %d' % (i + 1))
        if 'learning_rate' in m:
            expect(m['learning_rate'] == lr, 'metrics line %d: learning_rate'
                   ' %r, expected %r' % (i + 1, m['learning_rate'], lr))
            n_lr += 1
        for k, v in m.items():
            expect(not isinstance(v, str) or '\ufffd' not in v,
                   'metrics line %d: %s lost characters: %r' % (i + 1, k, v))
    expect(n_lr > 0, 'metrics.jsonl: no learning_rate')
    print('metrics: %d strict lines, learning_rate %r in %d' % (
        len(lines), lr, n_lr))

    # the checkpoint, as safetensors reads it; its metadata exact
    meta, tensors = read_safetensors(os.path.join(d, 'model.safetensors'))
    norm = strict(meta['normalization'], 'normalization')
    # floats written as the shortest text that reads back as the float
    expect([f32(v) for v in norm['mean']] == [f32(v) for v in stats['mean']],
           'checkpoint mean %r, expected float32 of %r' % (norm['mean'],
                                                          stats['mean']))
    expect([f32(v) for v in norm['std']] == [f32(v) for v in stats['std']],
           'checkpoint std %r, expected float32 of %r' % (norm['std'],
                                                         stats['std']))
    lrn = strict(meta['lrn'], 'lrn')
    expect(lrn == {'size': 5, 'alpha': 0.0001, 'beta': 0.75, 'k': 2,
                   'alpha_divided_by_size': True}
           or (lrn['alpha'] == 0.0001 and lrn['beta'] == 0.75),
           'lrn %r' % lrn)
    expect(float(meta['learning_rate']) == lr,
           'checkpoint learning_rate %r' % meta['learning_rate'])
    names = strict(meta['class_names'], 'class_names')
    expect(names == classes, 'class_names %r, expected %r' % (names,
                                                              classes))
    for key in ('init', 'extra'):
        if key in meta:
            strict(meta[key], key)
    print('checkpoint: safetensors layout of %d tensors, normalisation, '
          'lrn, learning rate and class names exact' % len(tensors))

    # classification: the same lines in both locales, strict, ids intact
    res_c = open(os.path.join(d, 'results-C.jsonl'), 'rb').read()
    res_de = open(os.path.join(d, 'results-de.jsonl'), 'rb').read()
    expect(res_c == res_de, 'results-de.jsonl differs from results-C.jsonl')
    rows = [strict(l, 'results line') for l in
            res_de.decode('utf-8').splitlines()]
    expect(rows, 'no results')
    for r in rows:
        expect(os.path.exists(r['id']), 'result id %r is not the file' %
               r['id'])
        expect(r['top_k'][0]['label'] in classes, 'label %r' %
               r['top_k'][0]['label'])
        p = sum(t['probability'] for t in r['top_k'])
        expect(0.99 < p < 1.01 or len(r['top_k']) < len(classes),
               'probabilities sum to %r' % p)
    print('results: %d strict lines, identical in C and de_DE' % len(rows))
    return 0


def make_comma(src, dst):
    """A copy of checkpoint `src` whose metadata is as versions before
    0.1.1 wrote it in a comma locale: %.9g / %.17g with ',' for '.'."""
    data = open(src, 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    meta = header['__metadata__']
    norm = json.loads(meta['normalization'])

    def old(v, digits):
        return ('%.*g' % (digits, v)).replace('.', ',')
    meta['normalization'] = '{"mean":[%s],"std":[%s]}' % (
        ','.join(old(v, 9) for v in norm['mean']),
        ','.join(old(v, 9) for v in norm['std']))
    meta['learning_rate'] = old(float(meta['learning_rate']), 17)
    raw = json.dumps(header, separators=(',', ':'),
                     ensure_ascii=False).encode('utf-8')
    raw += b' ' * (-len(raw) % 8)
    with open(dst, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)) + raw + data[8 + n:])
    print('%s: normalization %s' % (dst, meta['normalization']))
    return 0


if __name__ == '__main__':
    try:
        if sys.argv[1] == 'make-comma':
            sys.exit(make_comma(sys.argv[2], sys.argv[3]))
        sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
    except (Bad, KeyError, OSError) as e:
        print('FAIL: %s' % e)
        sys.exit(1)
