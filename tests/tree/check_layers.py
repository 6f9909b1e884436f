#!/usr/bin/env python3
"""The compute core's layers, checked: every #include in kernels/ points at
its own layer or at one the layer may use (docs/architecture.md), never at
elements/, plugin/ or tests/; nothing test-only lives in kernels/.

Usage: check_layers.py SOURCE_ROOT. Prints each offending include as
file:line and exits 1 when there is one. check_layers.py --self-test
first shows that the check fails on a tree with an upward include."""
import os
import tempfile
import re
import sys

# What each layer may include besides itself. Keep in step with
# docs/architecture.md and kernels/meson.build.
ALLOWED = {
    'util': set(),
    'image': {'util'},
    'io': {'util'},
    'backend': {'util', 'image'},
    'cpu': {'util', 'backend'},
    'cuda': {'util', 'image', 'backend'},
    'nn': {'util', 'image', 'io', 'backend', 'cpu', 'cuda'},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    """The layer of a path relative to the source root, or None."""
    parts = path.split('/')
    if len(parts) >= 3 and parts[0] == 'kernels':
        return parts[1]
    return None


def main(root):
    bad = []
    kernels = os.path.join(root, 'kernels')
    for d, _, names in os.walk(kernels):
        for name in sorted(names):
            if not name.endswith(('.c', '.h', '.cu')):
                continue
            path = os.path.relpath(os.path.join(d, name), root)
            layer = layer_of(path)
            if layer not in ALLOWED:
                bad.append('%s: not in a layer folder (kernels/<layer>/)'
                           % path)
                continue
            if name.startswith(('ref_', 'test_', 'fake_', 'sim_')):
                bad.append('%s: test-only code belongs under tests/' % path)
            with open(os.path.join(root, path), encoding='utf-8',
                      errors='replace') as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    if '/' not in target:
                        # same folder
                        target = os.path.join(os.path.dirname(path), target)
                    if not os.path.exists(os.path.join(root, target)):
                        bad.append('%s:%d: "%s" is not a file of the tree'
                                   % (path, no, m.group(1)))
                        continue
                    to = layer_of(target)
                    if to is None:
                        bad.append('%s:%d: the %s layer includes "%s", '
                                   'outside the compute core'
                                   % (path, no, layer, m.group(1)))
                    elif to != layer and to not in ALLOWED[layer]:
                        bad.append('%s:%d: the %s layer includes "%s" of '
                                   'the %s layer, which it may not use '
                                   '(allowed: %s)'
                                   % (path, no, layer, m.group(1), to,
                                      ', '.join(sorted(ALLOWED[layer]))
                                      or 'none'))
    for b in bad:
        print(b)
    print('%d include(s) against the layers' % len(bad))
    return 1 if bad else 0


def self_test():
    """A tree whose util layer includes nn must fail, its fix must pass."""
    with tempfile.TemporaryDirectory() as root:
        for d in ('kernels/util', 'kernels/nn'):
            os.makedirs(os.path.join(root, d))
        with open(os.path.join(root, 'kernels/nn/net.h'), 'w') as f:
            f.write('#include "kernels/util/rng.h"\n')
        rng = os.path.join(root, 'kernels/util/rng.h')
        with open(rng, 'w') as f:
            f.write('#include "kernels/nn/net.h"\n')
        if main(root) != 1:
            print('self-test: an upward include was not caught')
            return 1
        with open(rng, 'w') as f:
            f.write('#include <stdint.h>\n')
        if main(root) != 0:
            print('self-test: a clean tree was refused')
            return 1
    return 0


if __name__ == '__main__':
    if sys.argv[1] == '--self-test':
        sys.exit(self_test() or main(sys.argv[2]))
    sys.exit(main(sys.argv[1]))
