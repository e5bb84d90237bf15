"""sockit serve --hex-dump FILE: every byte each way of every connection (and datagram),
under every model, in hexdump -C layout under a header per chunk naming the direction,
the peer and the chunk's offset in that direction's stream. The dump is parsed back into
bytes and compared with what the client sent and what it got back."""
import os
import re
import socket
import tempfile

import sktest
from sktest import Case, each_model, random_bytes, recv_exact, serve

HEADER = re.compile(r"^([<>]) (.+): (\d+) bytes (sent|received) at offset (\d+)$")
LINE = re.compile(r"^([0-9a-f]{8})  (.{48})  \|(.*)\|$")


def parse_dump(lines, strict=True):
    """{(peer, 'sent' | 'received'): {offset: bytes}} from a dump's lines; every data line's
    offset must follow on from the header's, and the header's length must match. Not
    strict: other lines (the -v log, with --hex-dump -) are skipped."""
    chunks, cur = {}, None
    for ln in lines:
        m = HEADER.match(ln)
        if m:
            cur = {"key": (m.group(2), m.group(4)), "off": int(m.group(5)), "n": int(m.group(3)),
                   "data": bytearray()}
            chunks.setdefault(cur["key"], {})[cur["off"]] = cur
            continue
        m = LINE.match(ln)
        if not m or cur is None:
            if strict:
                raise AssertionError("not a dump line: %r" % ln)
            continue  # a -v log line between chunks (with --hex-dump -)
        off = int(m.group(1), 16)
        if off != cur["off"] + len(cur["data"]):
            raise AssertionError("line offset %x does not follow on: %r" % (off, ln))
        hexpart = m.group(2).replace("  ", " ").split()
        data = bytes(int(h, 16) for h in hexpart)
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
        if ascii_ != m.group(3):
            raise AssertionError("ascii column %r for %r" % (m.group(3), data))
        cur["data"] += data
    out = {}
    for key, by_off in chunks.items():
        out[key] = {}
        for off, c in by_off.items():
            if len(c["data"]) != c["n"]:
                raise AssertionError("chunk at %d says %d bytes, has %d"
                                     % (off, c["n"], len(c["data"])))
            out[key][off] = bytes(c["data"])
    return out


def stream(chunks):
    """Join the chunks of one direction in offset order; they must tile the stream."""
    out = bytearray()
    for off in sorted(chunks):
        if off != len(out):
            raise AssertionError("gap or overlap at offset %d (have %d)" % (off, len(out)))
        out += chunks[off]
    return bytes(out)


@each_model
class HexDumpTests(Case):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockit-hexdump-")
        self.path = os.path.join(self.dir, "dump.txt")

    def tearDown(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        os.rmdir(self.dir)

    def each_tcp_both_ways(self, model):
        """two clients, each sending 100 KB of random bytes in pieces and reading the echo:
        the dump holds, per client, the received stream and the sent stream, each exactly
        the client's bytes, at consecutive offsets"""
        payloads = [random_bytes(100000, seed=k) for k in (1, 2)]
        peers = []
        with serve("echo", "--hex-dump", self.path, model=model) as srv:
            for p in payloads:
                with sktest.connect(srv.port) as c:
                    peers.append("127.0.0.1:%d" % c.getsockname()[1])
                    got = sktest.exchange(c, p)
                    self.assertSameBytes(got, p, "the echo")
                srv.wait_log(r"^Closed %s: " % re.escape(peers[-1]))
            self.assertEqual(srv.stop(), 0)
        with open(self.path, encoding="ascii") as f:
            dump = parse_dump(f.read().splitlines())
        for peer, p in zip(peers, payloads):
            self.assertSameBytes(stream(dump[(peer, "received")]), p, "received from " + peer)
            self.assertSameBytes(stream(dump[(peer, "sent")]), p, "sent to " + peer)
        self.assertEqual(len(dump), 4, sorted(dump))

    def each_datagrams(self, model):
        """--udp: each datagram and its reply are a chunk at offset 0 each way"""
        with serve("echo", "--udp", "--hex-dump", self.path, model=model) as srv:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(sktest.DEFAULT_TIMEOUT)
                peer = None
                for i in range(3):
                    d = b"datagram %d \x00\xff" % i
                    u.sendto(d, (srv.host, srv.port))
                    self.assertEqual(u.recvfrom(100)[0], d)
                    peer = "127.0.0.1:%d" % u.getsockname()[1]
            self.assertEqual(srv.stop(), 0)
        with open(self.path, encoding="ascii") as f:
            lines = f.read().splitlines()
        heads = [HEADER.match(ln).groups() for ln in lines if HEADER.match(ln)]
        self.assertEqual(heads, [(d, peer, "13", w, "0") for _ in range(3)
                                 for d, w in (("<", "received"), (">", "sent"))])
        chunks = []
        for ln in lines:
            m = LINE.match(ln)
            if m:
                chunks.append(bytes(int(h, 16) for h in m.group(2).split()))
        self.assertEqual(chunks, [b"datagram %d \x00\xff" % i for i in range(3) for _ in (0, 1)])


class HexDumpStderr(Case):
    def test_dash_is_stderr(self):
        """--hex-dump -: the dump goes to stderr, among the -v log lines"""
        with serve("echo", "--hex-dump", "-") as srv:
            with sktest.connect(srv.port) as c:
                c.sendall(b"hello, dump")
                self.assertEqual(recv_exact(c, 11), b"hello, dump")
                peer = "127.0.0.1:%d" % c.getsockname()[1]
            srv.wait_log(r"^Closed ")
            self.assertEqual(srv.stop(), 0)
        dump = parse_dump(srv.log_lines, strict=False)
        self.assertEqual(stream(dump[(peer, "received")]), b"hello, dump")
        self.assertEqual(stream(dump[(peer, "sent")]), b"hello, dump")

    def test_unwritable_file(self):
        """--hex-dump to a directory that does not exist: exit 1, the path named"""
        r = sktest.run([sktest.SOCKIT, "serve", "echo", "-l", "127.0.0.1:0", "--hex-dump",
                        "/nonexistent/dir/dump"], timeout=5)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"/nonexistent/dir/dump", r.stderr)


if __name__ == "__main__":
    sktest.main()
