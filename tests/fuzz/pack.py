#!/usr/bin/env python3
"""Packs a libFuzzer corpus directory into one .pack file, or unpacks one.

A .pack file is a sequence of records: a 4-byte little-endian length, then
that many bytes, one fuzz input per record. fuzz_replay reads .pack files
as well as plain files, so a merged corpus of hundreds of inputs lives in
the repository as one file per target.

  pack.py pack DIR OUT.pack      inputs of DIR, sorted by name
  pack.py unpack IN.pack DIR     one file per record (for libFuzzer seeds)
"""
import os
import struct
import sys


def pack(src, out):
    names = sorted(n for n in os.listdir(src) if not n.startswith('.'))
    with open(out, 'wb') as f:
        for n in names:
            data = open(os.path.join(src, n), 'rb').read()
            f.write(struct.pack('<I', len(data)))
            f.write(data)
    print(f'{out}: {len(names)} inputs')


def unpack(src, out):
    os.makedirs(out, exist_ok=True)
    data = open(src, 'rb').read()
    pos = i = 0
    while pos < len(data):
        if pos + 4 > len(data):
            sys.exit(f'{src}: truncated record header at byte {pos}')
        (n,) = struct.unpack_from('<I', data, pos)
        pos += 4
        if pos + n > len(data):
            sys.exit(f'{src}: record {i} runs past the end')
        with open(os.path.join(out, f'{i:05d}'), 'wb') as f:
            f.write(data[pos:pos + n])
        pos += n
        i += 1
    print(f'{out}: {i} inputs')


if __name__ == '__main__':
    if len(sys.argv) != 4 or sys.argv[1] not in ('pack', 'unpack'):
        sys.exit(__doc__)
    (pack if sys.argv[1] == 'pack' else unpack)(sys.argv[2], sys.argv[3])
