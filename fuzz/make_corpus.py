#!/usr/bin/env python3
"""Write the seed corpus of fuzz_frame (fuzz/corpus/frame/), deterministically.

Each input is the 7-byte header fuzz_frame.c reads (framing, max, fixed N, split, seed)
followed by a stream. Run from anywhere: python3 fuzz/make_corpus.py
Existing files named seed-* are replaced; other files (minimized finds) are kept.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "frame")

KINDS = {"raw": 0, "line": 1, "crlf": 2, "fixed": 3, "len16": 4, "len32": 5, "eof": 6}
# Chunk caps selectable by the low 3 bits of byte 5 (see fuzz_frame.c).
CHUNK_1, CHUNK_2, CHUNK_3, CHUNK_5, CHUNK_8, CHUNK_64, CHUNK_512, CHUNK_4096 = range(8)


def header(kind, max_, n=1, chunk=CHUNK_1, eof_apart=False, seed=0):
    """max_ is 1..4096 and n is 1..max_, encoded so the target decodes them back."""
    assert 1 <= max_ <= 4096 and 1 <= n <= max_
    return bytes([KINDS[kind]]) + struct.pack(">HH", max_ - 1, n - 1) + bytes(
        [chunk | (8 if eof_apart else 0), seed])


def l16(p):
    return struct.pack(">H", len(p)) + p


def l32(p):
    return struct.pack(">I", len(p)) + p


def main():
    rng = random.Random(20240601)
    garbage = bytes(rng.randrange(256) for _ in range(200))
    every_byte = bytes(range(256))
    seeds = {
        # raw
        "raw-small": header("raw", 4, chunk=CHUNK_3) + b"0123456789",
        "raw-empty": header("raw", 16),
        "raw-garbage": header("raw", 64, chunk=CHUNK_8, seed=7) + garbage,
        # line
        "line-three": header("line", 100) + b"one\ntwo\n\n",
        "line-unterminated": header("line", 100, chunk=CHUNK_2, eof_apart=True) + b"a\nlast",
        "line-exact-max": header("line", 8) + b"12345678\n",
        "line-max-plus-one": header("line", 8) + b"123456789\n",
        "line-nul-cr": header("line", 32, chunk=CHUNK_1) + b"\0\r\0\n\r\r\n\xff\n",
        "line-every-byte": header("line", 300, chunk=CHUNK_64) + every_byte,
        "line-long-bytewise": header("line", 4096, chunk=CHUNK_1) + b"x" * 3000 + b"\n",
        # crlf
        "crlf-three": header("crlf", 100) + b"one\r\ntwo\r\n\r\n",
        "crlf-lone": header("crlf", 100, chunk=CHUNK_1) + b"a\nb\rc\r\n\n\r\n\r\r\n",
        "crlf-cr-at-split": header("crlf", 100, chunk=CHUNK_1, seed=1) + b"abc\r\ndef\r",
        "crlf-cr-at-max": header("crlf", 4) + b"abcd\r\n",
        "crlf-cr-past-max": header("crlf", 4, eof_apart=True) + b"abcd\r",
        "crlf-too-long": header("crlf", 4) + b"abcde\r\n",
        "crlf-every-byte": header("crlf", 300, chunk=CHUNK_5) + every_byte + b"\r\n",
        # fixed
        "fixed-three": header("fixed", 100, n=3) + b"onetwo\0\0\0",
        "fixed-leftover": header("fixed", 100, n=4, chunk=CHUNK_3) + b"abcdef",
        "fixed-one": header("fixed", 1, n=1, chunk=CHUNK_2) + b"xyz",
        "fixed-max": header("fixed", 4096, n=4096, chunk=CHUNK_512) + garbage * 21,
        # len16
        "len16-three": header("len16", 100) + l16(b"one") + l16(b"two") + l16(b""),
        "len16-split-header": header("len16", 300, chunk=CHUNK_1) + l16(every_byte),
        "len16-too-big": header("len16", 10) + b"\x00\x0b" + b"x" * 11,
        "len16-all-ones": header("len16", 4096) + b"\xff\xff",
        "len16-cut": header("len16", 100, chunk=CHUNK_1) + b"\x00\x05abc",
        "len16-one-byte": header("len16", 100) + b"\x00",
        # len32
        "len32-three": header("len32", 100) + l32(b"one") + l32(b"two") + l32(b""),
        "len32-header-3-eof": header("len32", 100, eof_apart=True) + b"\0\0\0",
        "len32-split-header": header("len32", 300, chunk=CHUNK_1, seed=3) + l32(b"hi") * 3,
        "len32-max": header("len32", 200, chunk=CHUNK_8) + l32(garbage),
        "len32-max-plus-one": header("len32", 199) + l32(garbage),
        "len32-all-ones": header("len32", 4096) + b"\xff\xff\xff\xff",
        "len32-high-bit": header("len32", 4096) + b"\x80\x00\x00\x00" + b"x" * 8,
        "len32-zero": header("len32", 1) + b"\0\0\0\0" * 5,
        # eof
        "eof-empty": header("eof", 16),
        "eof-empty-apart": header("eof", 16, eof_apart=True),
        "eof-exact-max": header("eof", 10, chunk=CHUNK_3) + b"0123456789",
        "eof-too-big": header("eof", 10, chunk=CHUNK_3) + b"0123456789X",
        "eof-garbage": header("eof", 4096, chunk=CHUNK_64) + garbage,
        # short inputs: no framing chosen
        "short-empty": b"",
        "short-header": b"\x01\x00\x10\x00",
    }
    # A few random mixed streams per framing: valid frames with garbage between them.
    for kind in KINDS:
        for i in range(2):
            max_ = rng.randrange(1, 64)
            n = rng.randrange(1, max_ + 1)
            body = bytearray()
            for _ in range(rng.randrange(1, 8)):
                p = bytes(rng.choice(b"ab\r\n\0\xff") for _ in range(rng.randrange(0, max_ + 1)))
                if kind == "len16":
                    body += l16(p)
                elif kind == "len32":
                    body += l32(p)
                elif kind == "fixed":
                    body += (p + b"z" * n)[:n]
                elif kind == "line":
                    body += p.replace(b"\n", b"n") + b"\n"
                elif kind == "crlf":
                    body += p.replace(b"\r\n", b"rn") + b"\r\n"
                else:
                    body += p
                if rng.randrange(4) == 0:
                    body += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))
            seeds["mixed-%s-%d" % (kind, i)] = header(
                kind, max_, n, chunk=rng.randrange(8), eof_apart=bool(i), seed=rng.randrange(256)
            ) + bytes(body)

    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.startswith("seed-"):
            os.remove(os.path.join(OUT, old))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, "seed-" + name), "wb") as fp:
            fp.write(data)
    print("%d seed inputs in %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
