#!/usr/bin/env python3
"""Writes COUNT synthetic ClamAV signatures for the scan benchmarks into DIR as NAME.hdb (90 %:
MD5 file hashes, the bulk of ClamAV's real daily database) and NAME.ndb (10 %: 16-byte body
patterns at any offset, which build the Aho-Corasick trie), plus the COPYING file sigtool wants.
Fixed seed: the same COUNT gives the same signatures. Usage: scan_make_signatures.py COUNT DIR NAME"""
import os, random, sys

count, out, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(20261126)
os.makedirs(out, exist_ok=True)
hashes = count * 9 // 10
with open(os.path.join(out, name + ".hdb"), "w") as f:
    for i in range(hashes):
        f.write(f"{rng.getrandbits(128):032x}:{rng.randint(1000, 1_000_000)}:Synthetic.Hash-{i}\n")
with open(os.path.join(out, name + ".ndb"), "w") as f:
    for i in range(count - hashes):
        f.write(f"Synthetic.Body-{i}:0:*:{rng.getrandbits(128):032x}\n")
with open(os.path.join(out, "COPYING"), "w") as f:
    f.write("synthetic benchmark signatures\n")
