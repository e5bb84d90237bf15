#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/NAME/), deterministically.

  frame    fuzz_frame.c: the 7-byte header (framing, max, fixed N, split, seed), a stream
  addr     fuzz_addr.c: a mode byte (parser, passive), then address text
  http     fuzz_http.c: 3 bytes (split, body, error end, sink limit), then a reply
  options  fuzz_options.c: sockit's arguments, NUL-separated; a first argument of one
           byte 0x01-0x1f picks the subcommand from the table

Run from anywhere: python3 fuzz/make_corpus.py [NAME...] (default: all of them).
Existing files named seed-* are replaced; other files (minimized finds, named after what
they found) are kept.
"""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

KINDS = {"raw": 0, "line": 1, "crlf": 2, "fixed": 3, "len16": 4, "len32": 5, "eof": 6}
# Chunk caps selectable by the low 3 bits of byte 5 (see fuzz_frame.c).
CHUNK_1, CHUNK_2, CHUNK_3, CHUNK_5, CHUNK_8, CHUNK_64, CHUNK_512, CHUNK_4096 = range(8)


def frame_header(kind, max_, n=1, chunk=CHUNK_1, eof_apart=False, seed=0):
    """max_ is 1..4096 and n is 1..max_, encoded so the target decodes them back."""
    assert 1 <= max_ <= 4096 and 1 <= n <= max_
    return bytes([KINDS[kind]]) + struct.pack(">HH", max_ - 1, n - 1) + bytes(
        [chunk | (8 if eof_apart else 0), seed])


def l16(p):
    return struct.pack(">H", len(p)) + p


def l32(p):
    return struct.pack(">I", len(p)) + p


def frame_seeds():
    """fuzz_frame: the 7-byte header fuzz_frame.c reads, then a stream."""
    rng = random.Random(20240601)
    garbage = bytes(rng.randrange(256) for _ in range(200))
    every_byte = bytes(range(256))
    seeds = {
        # raw
        "raw-small": frame_header("raw", 4, chunk=CHUNK_3) + b"0123456789",
        "raw-empty": frame_header("raw", 16),
        "raw-garbage": frame_header("raw", 64, chunk=CHUNK_8, seed=7) + garbage,
        # line
        "line-three": frame_header("line", 100) + b"one\ntwo\n\n",
        "line-unterminated": frame_header("line", 100, chunk=CHUNK_2, eof_apart=True) + b"a\nlast",
        "line-exact-max": frame_header("line", 8) + b"12345678\n",
        "line-max-plus-one": frame_header("line", 8) + b"123456789\n",
        "line-nul-cr": frame_header("line", 32, chunk=CHUNK_1) + b"\0\r\0\n\r\r\n\xff\n",
        "line-every-byte": frame_header("line", 300, chunk=CHUNK_64) + every_byte,
        "line-long-bytewise": frame_header("line", 4096, chunk=CHUNK_1) + b"x" * 3000 + b"\n",
        # crlf
        "crlf-three": frame_header("crlf", 100) + b"one\r\ntwo\r\n\r\n",
        "crlf-lone": frame_header("crlf", 100, chunk=CHUNK_1) + b"a\nb\rc\r\n\n\r\n\r\r\n",
        "crlf-cr-at-split": frame_header("crlf", 100, chunk=CHUNK_1, seed=1) + b"abc\r\ndef\r",
        "crlf-cr-at-max": frame_header("crlf", 4) + b"abcd\r\n",
        "crlf-cr-past-max": frame_header("crlf", 4, eof_apart=True) + b"abcd\r",
        "crlf-too-long": frame_header("crlf", 4) + b"abcde\r\n",
        "crlf-every-byte": frame_header("crlf", 300, chunk=CHUNK_5) + every_byte + b"\r\n",
        # fixed
        "fixed-three": frame_header("fixed", 100, n=3) + b"onetwo\0\0\0",
        "fixed-leftover": frame_header("fixed", 100, n=4, chunk=CHUNK_3) + b"abcdef",
        "fixed-one": frame_header("fixed", 1, n=1, chunk=CHUNK_2) + b"xyz",
        "fixed-max": frame_header("fixed", 4096, n=4096, chunk=CHUNK_512) + garbage * 21,
        # len16
        "len16-three": frame_header("len16", 100) + l16(b"one") + l16(b"two") + l16(b""),
        "len16-split-header": frame_header("len16", 300, chunk=CHUNK_1) + l16(every_byte),
        "len16-too-big": frame_header("len16", 10) + b"\x00\x0b" + b"x" * 11,
        "len16-all-ones": frame_header("len16", 4096) + b"\xff\xff",
        "len16-cut": frame_header("len16", 100, chunk=CHUNK_1) + b"\x00\x05abc",
        "len16-one-byte": frame_header("len16", 100) + b"\x00",
        # len32
        "len32-three": frame_header("len32", 100) + l32(b"one") + l32(b"two") + l32(b""),
        "len32-header-3-eof": frame_header("len32", 100, eof_apart=True) + b"\0\0\0",
        "len32-split-header": frame_header("len32", 300, chunk=CHUNK_1, seed=3) + l32(b"hi") * 3,
        "len32-max": frame_header("len32", 200, chunk=CHUNK_8) + l32(garbage),
        "len32-max-plus-one": frame_header("len32", 199) + l32(garbage),
        "len32-all-ones": frame_header("len32", 4096) + b"\xff\xff\xff\xff",
        "len32-high-bit": frame_header("len32", 4096) + b"\x80\x00\x00\x00" + b"x" * 8,
        "len32-zero": frame_header("len32", 1) + b"\0\0\0\0" * 5,
        # eof
        "eof-empty": frame_header("eof", 16),
        "eof-empty-apart": frame_header("eof", 16, eof_apart=True),
        "eof-exact-max": frame_header("eof", 10, chunk=CHUNK_3) + b"0123456789",
        "eof-too-big": frame_header("eof", 10, chunk=CHUNK_3) + b"0123456789X",
        "eof-garbage": frame_header("eof", 4096, chunk=CHUNK_64) + garbage,
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
            seeds["mixed-%s-%d" % (kind, i)] = frame_header(
                kind, max_, n, chunk=rng.randrange(8), eof_apart=bool(i), seed=rng.randrange(256)
            ) + bytes(body)

    return seeds


# ---- addr ----

ADDR_PARSE, ADDR_HOSTPORT, ADDR_PORT, ADDR_ACL = range(4)
ADDR_PASSIVE = 4
ACL_ALLOW = 8


def addr_seeds():
    """fuzz_addr: the mode byte, then the text (mode 1: HOST NUL PORT)."""
    def a(mode, text, extra=0):
        return bytes([mode | extra]) + (text.encode() if isinstance(text, str) else text)

    seeds = {}
    parse = {
        "v4": "127.0.0.1:5000", "v4-short": "127.1:80", "v4-hex": "0x7f.1:80",
        "v4-bad": "1.2.3.4.5:80", "v6": "[::1]:5000", "v6-any": "[::]:0",
        "v6-mapped": "[::ffff:1.2.3.4]:80", "v6-scope-name": "[fe80::1%lo]:22",
        "v6-scope-num": "[fe80::1%1]:22", "v6-global-scope": "[2001:db8::1%1]:80",
        "v6-scope-empty": "[fe80::1%]:22", "v6-no-close": "[::1:5000",
        "v6-no-port": "[::1]", "v6-colon-no-port": "[::1]:", "v6-junk": "[::1]x",
        "v6-bad": "[::g]:80", "v6-unbracketed": "::1:80", "any": ":5000", "star": "*:80",
        "bare-port": "5000", "bare-service": "http", "bare-name": "localhost",
        "bare-too-big": "99999", "name-service": "localhost:http", "name": "example.com:80",
        "name-bad-port": "host:99999", "name-space": "ex ample:80", "name-utf8": "b\u00fccher.de:80",
        "name-253": "a" * 253 + ":1", "name-254": "a" * 254 + ":1",
        "invalid-tld": "foo.invalid:80", "empty": "", "colon": ":", "unix": "unix:/tmp/s.sock",
        "unix-rel": "unix:s.sock", "unix-abstract": "unix:@sockit", "unix-abstract-at": "unix:@@x",
        "unix-empty": "unix:", "unix-abstract-empty": "unix:@", "unix-107": "unix:/" + "p" * 106,
        "unix-108": "unix:/" + "p" * 107, "unix-abstract-107": "unix:@" + "n" * 107,
        "unix-abstract-108": "unix:@" + "n" * 108, "unix-as-host": "unix:80",
        "control": "a\x01b:80", "port-name-long": "h:" + "x" * 70,
    }
    for name, text in parse.items():
        seeds["parse-" + name] = a(ADDR_PARSE, text)
    seeds["parse-any-passive"] = a(ADDR_PARSE, ":5000", ADDR_PASSIVE)
    seeds["parse-v6-passive"] = a(ADDR_PARSE, "[::]:80", ADDR_PASSIVE)
    hostport = {
        "v6": b"::1\x0080", "v6-brackets": b"[::1]\x005000", "name-service": b"localhost\x00http",
        "empty-host": b"\x0080", "unix-host": b"unix\x0080", "no-port": b"host",
        "empty-port": b"host\x00", "v6-scope": b"fe80::1%lo\x0022", "bad-host": b"a/b\x0080",
        "star": b"*\x0080", "brackets-name": b"[abc]\x0080",
    }
    for name, text in hostport.items():
        seeds["hostport-" + name] = a(ADDR_HOSTPORT, text)
    for name, text in {"zero": "0", "max": "65535", "over": "65536", "name": "http",
                       "zeros": "00080", "negative": "-1", "dash-name": "netbios-ns",
                       "empty": "", "huge": "9" * 40, "unknown": "nosuchservice"}.items():
        seeds["port-" + name] = a(ADDR_PORT, text)
    acl = {
        "v4": "10.0.0.0/8", "v4-host-bits": "10.0.0.1/8", "v4-host": "192.168.1.7",
        "v6": "::1", "v6-brackets": "[::1]/128", "mapped": "::ffff:10.0.0.0/104",
        "mapped-95": "::ffff:0:0/95", "all": "all", "any": "any", "v4-all": "0.0.0.0/0",
        "v4-33": "1.2.3.4/33", "leading-zero": "1.2.3.0/08", "zone": "fe80::%lo",
        "empty": "", "only-prefix": "/8", "v6-129": "::/129", "sign": "10.0.0.0/+8",
    }
    for name, text in acl.items():
        seeds["acl-" + name] = a(ADDR_ACL, text, ACL_ALLOW)
    seeds["acl-deny-v6"] = a(ADDR_ACL, "2001:db8::/32")
    seeds["acl-deny-all"] = a(ADDR_ACL, "all")
    seeds["short-empty"] = b""
    return seeds


# ---- http ----

# Largest read of the split run, by the low 3 bits of byte 0 (see fuzz_http.c).
READ_1, READ_2, READ_3, READ_7, READ_64, READ_512, READ_4096, READ_65536 = range(8)
HTTP_BODY_ALWAYS, HTTP_ERROR_END, HTTP_SINK_FAILS = 8, 16, 32


def http_seeds():
    """fuzz_http: 3 header bytes, then the reply."""
    def h(reply, read=READ_1, flags=0, seed=0, limit=0):
        return bytes([read | flags, seed, limit]) + reply

    ok = b"HTTP/1.1 200 OK\r\n"
    seeds = {
        "length": h(ok + b"Content-Length: 5\r\n\r\nhello"),
        "length-trailing-bytes": h(ok + b"Content-Length: 2\r\n\r\nhello", READ_3),
        "length-short": h(ok + b"Content-Length: 10\r\n\r\nhello", READ_2),
        "length-list": h(ok + b"Content-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc"),
        "length-conflict": h(ok + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        "length-bad": h(ok + b"Content-Length: 3x\r\n\r\nabc"),
        "length-empty": h(ok + b"Content-Length:\r\n\r\n"),
        "length-huge": h(ok + b"Content-Length: 99999999999999999999999\r\n\r\n"),
        "length-limit": h(ok + b"Content-Length: 4611686018427387904\r\n\r\nab"),
        "length-zero": h(ok + b"content-length:0\r\n\r\n"),
        "eof": h(ok + b"Server: x\r\n\r\nread to the end\n", READ_7, seed=3),
        "eof-error-end": h(ok + b"\r\nbody", READ_2, HTTP_ERROR_END),
        "http10-lf-only": h(b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nbody"),
        "chunked": h(ok + b"Transfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"),
        "chunked-ext-trailers": h(ok + b"Transfer-Encoding: chunked\r\n\r\n"
                                  b"4;name=val\r\nabcd\r\nA \t;x\r\n0123456789\r\n"
                                  b"0\r\nExpires: never\r\nX: y\r\n\r\nignored", READ_3, seed=9),
        "chunked-bare-lf": h(ok + b"Transfer-Encoding: chunked\n\n3\nabc\n0\n\n"),
        "chunked-over-length": h(ok + b"Content-Length: 100\r\nTransfer-Encoding: chunked\r\n"
                                 b"\r\n4\r\nabcd\r\n0\r\n\r\n", READ_64),
        "chunked-not-last": h(ok + b"Transfer-Encoding: chunked, gzip\r\n\r\nraw body"),
        "chunked-not-last-length": h(ok + b"Transfer-Encoding: chunked, gzip\r\nContent-Length: 3"
                                     b"\r\n\r\nabcdef", READ_2),
        "coding-gzip-chunked": h(ok + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
                                 b"4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n", READ_3),
        "coding-gzip-alone-404": h(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip\r\n\r\nz",
                                   flags=HTTP_BODY_ALWAYS),
        "coding-identity-length": h(ok + b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n"
                                    b"\r\nabc"),
        "coding-params": h(ok + b"Transfer-Encoding: x;q=1 , chunked\r\n\r\n0\r\n\r\n"),
        "coding-chunked-twice": h(ok + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
                                  b"\r\n\r\n1\r\nz\r\n0\r\n\r\n"),
        "coding-empty": h(ok + b"Transfer-Encoding:\r\nContent-Length: 1\r\n\r\nz"),
        "coding-empty-elements": h(ok + b"Transfer-Encoding: ,, chunked ,\r\n\r\n1\r\nz\r\n0\r\n"
                                   b"\r\n", READ_7, seed=5),
        "coding-c1-long": h(ok + b"Transfer-Encoding: \x9b" + b"\xc2\x9b" * 60 + b"\r\n\r\n"),
        "header-c1-utf8": h(b"HTTP/1.1 200 \xc3\x9cber\xc2\x9b\r\nX-A: a\x9bb\xc3\xa9\r\n"
                            b"Content-Length: 1\r\n\r\nz"),
        "redirect-c1": h(b"HTTP/1.1 301 M\x9b\r\nLocation: /\xc2\x9b\x9b[2J\r\n\r\n"),
        "chunked-last-of-two": h(ok + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: "
                                 b"CHUNKED\r\n\r\n1\r\nz\r\n0\r\n\r\n"),
        "chunked-huge-size": h(ok + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n"),
        "chunked-limit-size": h(ok + b"Transfer-Encoding: chunked\r\n\r\n4000000000000001\r\n"),
        "chunked-big-then-eof": h(ok + b"Transfer-Encoding: chunked\r\n\r\n100000\r\nabc", READ_2),
        "chunked-no-crlf": h(ok + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"),
        "chunked-cr-then-eof": h(ok + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r"),
        "chunked-bad-size": h(ok + b"Transfer-Encoding: chunked\r\n\r\nxyz\r\n"),
        "chunked-size-junk": h(ok + b"Transfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n"),
        "chunked-size-ctl": h(ok + b"Transfer-Encoding: chunked\r\n\r\n3;\x01\r\nabc\r\n"),
        "chunked-long-size-line": h(ok + b"Transfer-Encoding: chunked\r\n\r\n1;" + b"e" * 4100
                                    + b"\r\nx\r\n0\r\n\r\n", READ_512),
        "chunked-eof-in-trailers": h(ok + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n"),
        "chunked-sink-fails": h(ok + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                                b"5\r\nworld\r\n0\r\n\r\n", READ_3, HTTP_SINK_FAILS, limit=7),
        "length-sink-fails": h(ok + b"Content-Length: 10\r\n\r\n0123456789", READ_1,
                               HTTP_SINK_FAILS, limit=0),
        "chunked-error-end": h(ok + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel", READ_2,
                               HTTP_ERROR_END),
        "continue": h(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n"
                      + ok + b"Content-Length: 2\r\n\r\nhi"),
        "switching": h(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
        "no-content": h(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"),
        "not-modified": h(b"HTTP/1.1 304 Not Modified\r\n\r\n", flags=HTTP_BODY_ALWAYS),
        "not-found-body": h(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone",
                            READ_2, HTTP_BODY_ALWAYS),
        "not-found-skipped": h(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"),
        "redirect": h(b"HTTP/1.1 302 Found\r\nLocation: http://example.com/\xff\r\n\r\n"),
        "redirect-long-location": h(b"HTTP/1.1 301 Moved\r\nLocation: " + b"/x" * 400
                                    + b"\r\n\r\n", READ_64),
        "status-no-reason": h(b"HTTP/1.1 200\r\n\r\nbody"),
        "status-long-reason": h(b"HTTP/1.1 200 " + b"R" * 300 + b"\r\n\r\n", READ_64),
        "status-http2": h(b"HTTP/2 200 OK\r\n\r\n"),
        "status-http09": h(b"<html>hello</html>\n"),
        "status-999": h(b"HTTP/1.1 999 Nine\r\n\r\n"),
        "status-099": h(b"HTTP/1.1 099 Low\r\n\r\n"),
        "status-ctl": h(b"HTTP/1.1 200 O\x00K\r\n\r\n"),
        "status-no-space": h(b"HTTP/1.1 200OK\r\n\r\n"),
        "header-no-colon": h(ok + b"NoColon\r\n\r\n"),
        "header-empty-name": h(ok + b": v\r\n\r\n"),
        "header-space-name": h(ok + b"Bad Name: v\r\n\r\n"),
        "header-obs-fold": h(ok + b"X: a\r\n  folded\r\n\r\n"),
        "header-ctl": h(ok + b"X: a\x7fb\r\n\r\n"),
        "header-tab-ows": h(ok + b"Content-Length:\t 2 \t\r\n\r\nab"),
        "empty": h(b""),
        "empty-error": h(b"", flags=HTTP_ERROR_END),
        "cut-status": h(b"HTTP/1.1 20"),
        "cut-headers": h(ok + b"X: 1\r\n"),
        "cut-header-line": h(ok + b"X: 1"),
        "headers-at-limit": h(ok + b"X: " + b"a" * (65536 - 17 - 2 - 5) + b"\r\n\r\n" + b"ok",
                              READ_65536),
        "headers-over-limit": h(ok + b"X: " + b"a" * (65536 - 17 - 2 - 4) + b"\r\n\r\n",
                                READ_4096),
        "headers-many-interim": h(b"HTTP/1.1 100 Continue\r\n\r\n" * 2700, READ_65536),
    }
    return seeds


# ---- options ----

# The subcommand table's order (cli/cmds.c); a first argument of one byte 0x01-0x1f picks
# one: 0x01 the first.
CMDS = ["serve", "connect", "listen", "get", "probe", "bench", "resolve", "hostname"]


def options_seeds():
    """fuzz_options: NUL-separated arguments after "sockit"."""
    def o(cmd, *args):
        first = bytes([CMDS.index(cmd) + 1]) if cmd in CMDS else cmd.encode()
        return b"\0".join([first] + [x.encode() if isinstance(x, str) else x for x in args])

    seeds = {
        "none": b"",
        "help": o("--help"), "help-short": o("-h"), "help-get": o("help", "get"),
        "help-unknown": o("help", "nope"), "version": o("--version"), "version-short": o("-V"),
        "unknown-command": o("bogus"), "unknown-option": o("-x"),
        # serve
        "serve-echo": o("serve", "echo", "-l", ":5000", "-l", "[::1]:0", "-v"),
        "serve-all": o("serve", "echo", "--model", "loop", "--threads", "4", "--max-output", "64K",
                       "--max-conns", "100", "--allow", "10.0.0.0/8", "--deny", "all",
                       "--idle-timeout", "1.5", "--frame-timeout", "2", "--drain-timeout", "0",
                       "-b", "128", "--frame", "len32", "--max-frame", "1MiB"),
        "serve-fork-chat": o("serve", "chat", "-m", "fork"),
        "serve-threads-model": o("serve", "echo", "-m", "thread", "-t", "2"),
        "serve-greet": o("serve", "greet", "--message", "hi\n", "-u", "-l", "unix:@g"),
        "serve-message-echo": o("serve", "echo", "--message", "x"),
        "serve-udp-frame": o("serve", "echo", "--udp", "--frame", "line"),
        "serve-udp-conns": o("serve", "daytime", "--udp", "--max-conns", "1"),
        "serve-bad-frame": o("serve", "echo", "--frame", "fixed:0"),
        "serve-max-frame-only": o("serve", "echo", "--max-frame", "10"),
        "serve-bad-size": o("serve", "echo", "--frame", "line", "--max-frame", "5X"),
        "serve-size-overflow": o("serve", "echo", "--max-output", "99999999999999999999G"),
        "serve-bad-acl": o("serve", "echo", "--allow", "10.0.0.1/8"),
        "serve-bad-listen": o("serve", "echo", "-l", "[::1"),
        "serve-too-many-listen": o("serve", "echo", *(["-l", "1"] * 33)),
        "serve-unknown": o("serve", "nosuch"), "serve-missing": o("serve"),
        "serve-extra": o("serve", "echo", "more"), "serve-bad-model": o("serve", "echo", "-m", "x"),
        "serve-backlog-zero": o("serve", "echo", "-b", "0"),
        "serve-chat-frame": o("serve", "chat", "--frame", "crlf", "--max-output", "1k"),
        "serve-chargen-frame": o("serve", "chargen", "--frame", "line"),
        "serve-nan": o("serve", "echo", "--idle-timeout", "nan"),
        # connect
        "connect-hostport": o("connect", "-w", "2", "-q", "0", "localhost", "5000"),
        "connect-frame": o("connect", "--frame", "fixed:16", "--max-frame", "1M", "[::1]:5000"),
        "connect-udp": o("connect", "--udp", "--linger", "0.5", "unix:/tmp/s"),
        "connect-udp-frame": o("connect", "-u", "--frame", "line", "h:1"),
        "connect-udp-quit": o("connect", "-u", "-q", "1", "h:1"),
        "connect-linger-tcp": o("connect", "--linger", "1", "h:1"),
        "connect-eof-no-half": o("connect", "--frame", "eof", "--no-half-close", "h:1"),
        "connect-missing": o("connect"), "connect-extra": o("connect", "a", "b", "c"),
        "connect-bad-addr": o("connect", "a:b:c"), "connect-bad-port": o("connect", "h", "99999"),
        "connect-missing-value": o("connect", "-w"), "connect-grouped": o("connect", "-vuw1", "h:1"),
        "connect-long-eq": o("connect", "--timeout=1e3", "--quit=inf", "h:1"),
        "connect-ambiguous": o("connect", "--max", "1", "h:1"),
        "connect-dashdash": o("connect", "--", "-v", "1"),
        # listen
        "listen-unix": o("listen", "-k", "-v", "unix:/tmp/s.sock"),
        "listen-bad": o("listen", "[::1]:x"), "listen-missing": o("listen"),
        "listen-extra": o("listen", "1", "2"),
        # get
        "get-full": o("get", "-i", "-v", "-w", "5", "http://127.0.0.1:8000/a b?x=1#frag"),
        "get-v6": o("get", "http://[::1]:80"), "get-v6-bad": o("get", "http://[::g]/"),
        "get-v6-no-close": o("get", "http://[::1/"), "get-v6-junk": o("get", "http://[::1]x/"),
        "get-https": o("get", "https://example.com/"), "get-ftp": o("get", "FTP://x/"),
        "get-no-scheme": o("get", "example.com"), "get-bad-scheme": o("get", "1http://x/"),
        "get-userinfo": o("get", "http://u:p@x/"), "get-empty-host": o("get", "http:///x"),
        "get-bad-host": o("get", "http://a b/"), "get-unbracketed": o("get", "http://::1/"),
        "get-port-empty": o("get", "http://x:/"), "get-port-zero": o("get", "http://x:0/"),
        "get-port-big": o("get", "http://x:65536/"), "get-port-long": o("get", "http://x:000080/"),
        "get-percent": o("get", "http://x/%41%zz%4"), "get-utf8": o("get", "http://x/\u00fc"),
        "get-long": o("get", "http://x/" + "\x01" * 2800), "get-host-253": o("get", "http://" + "h" * 253),
        "get-missing": o("get"), "get-extra": o("get", "http://x/", "y"),
        "get-bad-timeout": o("get", "-w", "0", "http://x/"), "get-bad-option": o("get", "--nope"),
        # probe
        "probe-list": o("probe", "-w", "0.5", "-c", "10", "--open", "-v", "localhost",
                        "20-30,80,https", "netbios-ns"),
        "probe-all": o("probe", "::1", "1-65535"), "probe-zero": o("probe", "h", "0"),
        "probe-reverse": o("probe", "h", "5-1"), "probe-empty-item": o("probe", "h", "1,,2"),
        "probe-empty-list": o("probe", "h", ""), "probe-empty-host": o("probe", "", "80"),
        "probe-bad-host": o("probe", "a b", "80"), "probe-dash": o("probe", "h", "-"),
        "probe-big": o("probe", "h", "99999999999999999999"), "probe-missing-ports": o("probe", "h"),
        "probe-conc": o("probe", "-c", "1001", "h", "1"),
        "probe-source": o("probe", "-s", "127.0.0.2", "-p", "40000", "h", "1-3"),
        "probe-source-long": o("probe", "--source=[::1]", "--source-port=http", "h", "1"),
        "probe-source-port-zero": o("probe", "-p", "0", "h", "1"),
        "probe-source-empty": o("probe", "-s", "", "h", "1"),
        "probe-hostport": o("probe", "127.0.0.1:5000"), "probe-v6-hostport": o("probe", "[::1]:80"),
        # bench
        "bench-bulk": o("bench", "-c", "10", "-s", "1K", "-d", "1", "--mode", "bulk", "--json",
                        "127.0.0.1:5000"),
        "bench-echo": o("bench", "-c", "4", "-p", "8", "-n", "100", "-r", "50", "-t", "2", "-w", "1",
                        "--warmup", "0.1", "--frame", "len32", "--histogram", "/dev/null",
                        "--no-verify", "[::1]:7"),
        "bench-udp": o("bench", "--udp", "-s", "8", "h:1"), "bench-udp-small": o("bench", "-u", "-s", "4", "h:1"),
        "bench-len32-small": o("bench", "--frame", "len32", "-s", "2", "h:1"),
        "bench-connect": o("bench", "--mode", "connect", "-p", "9", "h:1"),
        "bench-bad-mode": o("bench", "--mode", "x", "h:1"),
        "bench-too-much": o("bench", "-c", "10000", "-p", "1000", "-s", "64K", "h:1"),
        "bench-bad-addr": o("bench", "nohost"), "bench-help": o("bench", "-h"),
        # resolve, hostname
        "resolve": o("resolve", "-4", "localhost", "http"), "resolve-6": o("resolve", "-6", "::1"),
        "resolve-bad": o("resolve", "a b"), "resolve-extra": o("resolve", "a", "b", "c"),
        "resolve-bad-service": o("resolve", "h", "nosuchservice"),
        "resolve-46": o("resolve", "-4", "-6", "h"),
        "help-extra": o("help", "probe", "x"),
        "hostname": o("hostname"), "hostname-option": o("hostname", "-x"),
        "hostname-extra": o("hostname", "x"), "hostname-help": o("hostname", "--help"),
    }
    return seeds


TARGETS = {"frame": frame_seeds, "addr": addr_seeds, "http": http_seeds, "options": options_seeds}


def write(name, seeds):
    out = os.path.join(HERE, "corpus", name)
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.startswith("seed-"):
            os.remove(os.path.join(out, old))
    for seed, data in sorted(seeds.items()):
        with open(os.path.join(out, "seed-" + seed), "wb") as fp:
            fp.write(data)
    print("%d seed inputs in %s" % (len(seeds), out))


def main():
    names = sys.argv[1:] or list(TARGETS)
    for name in names:
        if name not in TARGETS:
            sys.exit("make_corpus.py: unknown target %r (%s)" % (name, ", ".join(TARGETS)))
        write(name, TARGETS[name]())


if __name__ == "__main__":
    main()
