#!/usr/bin/env python3
"""The shared objects export only their public API: the plugin its
gst_plugin_alexnet_* entry points, libgstalexnet-common what
plugin/*.h marks GST_ALEXNET_API, the CUDA module its one entry point.

Usage: check_exports.py SOURCE_ROOT FILE.so KIND [...] where KIND is
plugin, common or cuda-module (the module's one entry point,
ax_cuda_module_v<ABI>)."""
import glob
import os
import re
import subprocess
import sys


def exported(path):
    out = subprocess.run(['nm', '-D', '--defined-only', path],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in 'TDBRVWi':
            names.add(f[2])
    # the linker's own
    return {n for n in names if not n.startswith('_')}


def common_api(root):
    api = set()
    for h in glob.glob(os.path.join(root, 'plugin', '*.h')):
        text = open(h, encoding='utf-8').read()
        for m in re.finditer(r'^GST_ALEXNET_API\b[^(;]*?\b(\w+)\s*\(', text,
                             re.M):
            api.add(m.group(1))
    return api


def main(argv):
    root, pairs = argv[1], argv[2:]
    failed = 0
    for path, kind in zip(pairs[0::2], pairs[1::2]):
        names = exported(path)
        if kind == 'plugin':
            extra = {n for n in names if not n.startswith('gst_plugin_alexnet_')}
            missing = {'gst_plugin_alexnet_get_desc'} - names
        elif kind == 'common':
            api = common_api(root)
            extra, missing = names - api, api - names
        elif kind == 'cuda-module':
            extra = {n for n in names if not n.startswith('ax_cuda_module_v')}
            missing = set() if names - extra else {'ax_cuda_module_v*'}
        else:
            print('unknown kind %s' % kind)
            return 2
        print('%s: %d exported' % (os.path.basename(path), len(names)))
        for n in sorted(extra):
            print('  exported but not public API: %s' % n)
        for n in sorted(missing):
            print('  public API not exported: %s' % n)
        failed |= bool(extra or missing)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
