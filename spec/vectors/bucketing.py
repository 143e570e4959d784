#!/usr/bin/env python3
"""Independent implementation of Burgee bucketing (spec/SNAPSHOT.md §4), using only hashlib.

    digest = SHA-256(u32be(len(salt)) || salt || u32be(len(seed)) || seed || u32be(len(value)) || value)
    bucket = u64be(digest[0:8]) mod 10000        (lengths are UTF-8 byte lengths)

Usage:
    bucketing.py check [FILE]          verify every golden value in FILE (default: bucketing.json beside
                                       this script); exits 1 on any mismatch
    bucketing.py bucket SALT SEED VALUE
    bucketing.py find SALT SEED BUCKET_LO BUCKET_HI [PREFIX]
                                       print the first PREFIX<n> whose bucket is in [LO, HI]
                                       (used to pick rollout-boundary keys for the vectors)
"""
import hashlib
import json
import pathlib
import struct
import sys


def bucket(salt: str, seed: str, value: str) -> int:
    h = hashlib.sha256()
    for part in (salt, seed, value):
        raw = part.encode("utf-8")
        h.update(struct.pack(">I", len(raw)))
        h.update(raw)
    return int.from_bytes(h.digest()[:8], "big") % 10000


def check(path: pathlib.Path) -> int:
    cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    bad = 0
    for c in cases:
        got = bucket(c["salt"], c["seed"], c["value"])
        if got != c["bucket"]:
            bad += 1
            print(f"MISMATCH {c!r}: computed {got}")
    print(f"{len(cases) - bad} passed, {bad} failed")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "check":
        default = pathlib.Path(__file__).with_name("bucketing.json")
        return check(pathlib.Path(argv[1]) if len(argv) > 1 else default)
    if len(argv) == 4 and argv[0] == "bucket":
        print(bucket(argv[1], argv[2], argv[3]))
        return 0
    if len(argv) in (5, 6) and argv[0] == "find":
        salt, seed, lo, hi = argv[1], argv[2], int(argv[3]), int(argv[4])
        prefix = argv[5] if len(argv) == 6 else "user-"
        for n in range(10_000_000):
            key = f"{prefix}{n}"
            if lo <= bucket(salt, seed, key) <= hi:
                print(key, bucket(salt, seed, key))
                return 0
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
