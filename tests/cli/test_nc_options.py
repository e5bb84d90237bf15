"""sockit connect / listen: no byte lost with exit 0, and the netcat user's options
(issue 12), each against a real peer (nc, ncat where installed; Python otherwise).

- stdin pauses never end a transfer: the issue's reproductions (a half-closed listener,
  a slow receiver) and a property test of random pause patterns into sockit listen,
  nc -l and ncat -l, byte-exact;
- -s/-p (source address and port), -C (CRLF on the wire), --hex-dump (the dump parses
  back into exactly the bytes each way), --keepalive (the kernel's keepalive timer is
  armed on the socket), listen --udp against nc -u, connect --udp --broadcast in a
  network namespace of the test's own;
- the messages: URLs go to get, port 0 is an invalid port, nc options name sockit's way.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import sktest
from sktest import SOCKIT, Case, random_bytes, run, serve

TIMEOUT = sktest.DEFAULT_TIMEOUT
NC = shutil.which("nc") or "nc"
NCAT = shutil.which("ncat") or "ncat"


def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.PIPE)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(argv, **kw)


def read_stderr_line(proc, pattern, timeout=TIMEOUT):
    """Read proc's stderr (bytes, unbuffered) until a line matches regex pattern; returns
    the match. Bounded by timeout."""
    rx = re.compile(pattern)
    buf = b""
    deadline = time.monotonic() + timeout
    fd = proc.stderr.fileno()
    import select
    while time.monotonic() < deadline:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            m = rx.search(line.decode(errors="replace"))
            if m:
                return m
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    raise AssertionError("no stderr line matching %r from %r" % (pattern, proc.args))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A listener of one kind ("sockit", "nc", "ncat") on 127.0.0.1, its stdin at EOF (so
    it half-closes at once, the case that lost data), writing what it receives to a file;
    ready once it has said "Listening on"."""

    def __init__(self, kind, out_path):
        self.kind = kind
        self.out = open(out_path, "wb")
        if kind == "sockit":
            argv, port = [SOCKIT, "listen", "-v", "127.0.0.1:0"], None
        elif kind == "nc":
            argv, port = [NC, "-lv", "127.0.0.1", "0"], None
        else:
            port = free_port()
            argv = [NCAT, "-lv", "127.0.0.1", str(port)]
        self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=self.out)
        m = read_stderr_line(self.proc, r"Listening on (\S+)[ :](\d+)$")
        self.port = port or int(m.group(2))

    def wait(self, timeout=TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            self.out.close()
        return rc


def paced_writer(proc, chunks, pauses):
    """Write chunks to proc's stdin with the given pauses between them, then close it."""
    def go():
        try:
            for i, c in enumerate(chunks):
                proc.stdin.write(c)
                proc.stdin.flush()
                if i < len(pauses):
                    time.sleep(pauses[i])
            proc.stdin.close()
        except BrokenPipeError:
            pass
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


class NoLossAfterPauses(Case):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def transfer(self, kind, chunks, pauses):
        """chunks through `sockit connect` (pausing between them) into a `kind` listener
        whose stdin is at EOF; returns (connect status, its stderr, bytes received)."""
        path = os.path.join(self.dir.name, "upload.bin")
        rx = Receiver(kind, path)
        proc = spawn([SOCKIT, "connect", "127.0.0.1", str(rx.port)], stdout=subprocess.DEVNULL)
        t = paced_writer(proc, chunks, pauses)
        budget = TIMEOUT + sum(pauses)
        rc = proc.wait(budget)
        t.join(budget)
        err = proc.stderr.read()
        self.assertEqual(rx.wait(budget), 0, "%s listener failed" % kind)
        with open(path, "rb") as f:
            return rc, err, f.read()

    def test_issue_reproduction_half_closed_listener(self):
        """the issue's case: `sockit listen > upload.bin < /dev/null` and
        `(cat p1; sleep 1.5; cat p2) | sockit connect`: upload.bin holds p1 and p2"""
        p1, p2 = random_bytes(100000, seed=1), random_bytes(100000, seed=2)
        rc, err, got = self.transfer("sockit", [p1, p2], [1.5])
        self.assertEqual(rc, 0, err)
        self.assertSameBytes(got, p1 + p2)

    def random_pauses_into(self, kind, seed):
        """property: random pause patterns (0-3 s in all, stdin pausing up to 1.5 s at a
        time) through connect into a `kind` listener arrive byte-exact, and both sides
        exit 0"""
        rng = random.Random(seed)
        for trial in range(2):
            n = rng.randint(2, 4)
            pauses = [rng.uniform(0, 1.5) for _ in range(n - 1)]
            while sum(pauses) > 3:
                pauses = [p / 2 for p in pauses]
            chunks = [random_bytes(rng.randint(1, 300000), seed=rng.random())
                      for _ in range(n)]
            with self.subTest(peer=kind, pauses=[round(p, 2) for p in pauses]):
                rc, err, got = self.transfer(kind, chunks, pauses)
                self.assertEqual(rc, 0, err)
                self.assertSameBytes(got, b"".join(chunks))

    def test_random_pauses_into_sockit_listen(self):
        self.random_pauses_into("sockit", 12)

    @sktest.needs("nc")
    def test_random_pauses_into_nc_listen(self):
        self.random_pauses_into("nc", 13)

    @sktest.needs("ncat")
    def test_random_pauses_into_ncat_listen(self):
        self.random_pauses_into("ncat", 14)

    def test_slow_receiver(self):
        """a receiver that reads 1 MiB, stops reading for 2 s, then reads the rest: all of
        a 16 MiB stdin arrives (a full send buffer is backpressure, never idleness)"""
        data = random_bytes(16 << 20, seed=3)
        path = os.path.join(self.dir.name, "slow.bin")
        reader = ("import sys, time\n"
                  "f = sys.stdin.buffer; a = f.read(1 << 20); time.sleep(2)\n"
                  "open(%r, 'wb').write(a + f.read())\n" % path)
        listen = spawn([SOCKIT, "listen", "-v", "127.0.0.1:0"], stdin=subprocess.DEVNULL)
        slow = subprocess.Popen(["python3", "-c", reader], stdin=listen.stdout)
        listen.stdout.close()
        port = sktest.parse_addr(read_stderr_line(listen, r"Listening on (\S+)").group(1))[1]
        src = os.path.join(self.dir.name, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        with open(src, "rb") as f:
            r = run([SOCKIT, "connect", "127.0.0.1", str(port)], stdin=f, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(listen.wait(30), 0)
        self.assertEqual(slow.wait(30), 0)
        with open(path, "rb") as f:
            self.assertSameBytes(f.read(), data)

    def test_peer_that_closed_is_an_error(self):
        """a peer that reads a little and closes for good: connect exits 1 and says how
        much of stdin it could not send"""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(TIMEOUT)

        def server():
            c, _ = ls.accept()
            c.recv(10)
            c.close()
        t = threading.Thread(target=server, daemon=True)
        t.start()
        proc = spawn([SOCKIT, "connect", "127.0.0.1", str(ls.getsockname()[1])],
                     stdout=subprocess.DEVNULL)
        w = paced_writer(proc, [b"hi\n", random_bytes(1 << 20, seed=4)], [0.5])
        rc = proc.wait(TIMEOUT)
        w.join(TIMEOUT)
        t.join(TIMEOUT)
        ls.close()
        err = proc.stderr.read()
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, rb"sockit: send 127\.0\.0\.1:\d+: peer closed the connection "
                         rb"\(\d+ bytes")


class PyListener:
    """A TCP listener in a thread that records each client's address and bytes."""

    def __init__(self, host="127.0.0.1", reply=b""):
        self.ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.ls.bind((host, 0))
        self.ls.listen(8)
        self.ls.settimeout(TIMEOUT)
        self.port = self.ls.getsockname()[1]
        self.reply = reply
        self.peers, self.data, self.socks = [], [], []
        self.resets = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            c, a = self.ls.accept()
        except OSError:
            return
        self.peers.append(a)
        self.socks.append(c)
        c.settimeout(TIMEOUT)
        if self.reply:
            c.sendall(self.reply)
        try:
            self.data.append(sktest.recv_until_eof(c))
        except ConnectionResetError:
            self.resets += 1
        c.close()

    def join(self):
        self.t.join(TIMEOUT)
        self.ls.close()


class ClientOptions(Case):
    def test_source_address_and_port(self):
        """-s 127.0.0.2 -p PORT (nc -s / -p): the server sees that address and port"""
        ps = PyListener()
        sport = free_port()
        r = run([SOCKIT, "connect", "-s", "127.0.0.2", "-p", str(sport), "127.0.0.1",
                 str(ps.port)], input=b"x")
        ps.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ps.peers, [("127.0.0.2", sport)])
        ps = PyListener()
        r = run([SOCKIT, "connect", "--source", "127.0.0.3", "127.0.0.1:%d" % ps.port],
                input=b"")
        ps.join()
        self.assertEqual((r.returncode, ps.peers[0][0]), (0, "127.0.0.3"), r.stderr)

    def test_source_errors(self):
        """a source address this host does not have, or of the other family: exit 1, a
        message naming the source; a bad source port: exit 2"""
        r = run([SOCKIT, "connect", "-s", "192.0.2.1", "127.0.0.1", "9"], input=b"")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"from 192.0.2.1", r.stderr)
        r = run([SOCKIT, "connect", "-s", "::1", "127.0.0.1", "9"], input=b"")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no source address of this family", r.stderr)
        r = run([SOCKIT, "connect", "-p", "0", "127.0.0.1", "9"], input=b"")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"invalid source port '0'", r.stderr)

    def test_crlf_on_the_wire(self):
        """-C: each "\\n" of stdin goes out as "\\r\\n"; a "\\r\\n" stays as it is; the
        reply is untouched"""
        ps = PyListener(reply=b"a\nb\n")
        r = run([SOCKIT, "connect", "-C", "127.0.0.1", str(ps.port)],
                input=b"GET / HTTP/1.0\n\nx\r\nlast")
        ps.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ps.data, [b"GET / HTTP/1.0\r\n\r\nx\r\nlast"])
        self.assertEqual(r.stdout, b"a\nb\n")

    @sktest.needs("nc")
    def test_crlf_against_nc(self):
        """-C into nc -l: nc receives CRLF line ends"""
        path = os.path.join(tempfile.mkdtemp(), "got")
        rx = Receiver("nc", path)
        r = run([SOCKIT, "connect", "-C", "127.0.0.1", str(rx.port)], input=b"one\ntwo\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rx.wait(), 0)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"one\r\ntwo\r\n")

    def parse_dump(self, text):
        """The bytes each way from a --hex-dump: {'>': sent, '<': received}, checking that
        every chunk's lines carry consecutive stream offsets."""
        out = {">": bytearray(), "<": bytearray()}
        cur = None
        for line in text.splitlines():
            m = re.fullmatch(r"([<>]) (\S+): (\d+) bytes (sent|received) at offset (\d+)", line)
            if m:
                cur = m.group(1)
                self.assertEqual(int(m.group(5)), len(out[cur]), line)
                self.assertEqual(m.group(4), "sent" if cur == ">" else "received")
                continue
            m = re.fullmatch(r"([0-9a-f]{8,})  (.{49}) \|(.*)\|", line)
            self.assertTrue(m and cur, "not a dump line: %r" % line)
            self.assertEqual(int(m.group(1), 16), len(out[cur]), line)
            chunk = bytes.fromhex(m.group(2).replace(" ", ""))
            self.assertEqual(m.group(3), "".join(chr(b) if 32 <= b < 127 else "."
                                                 for b in chunk))
            out[cur] += chunk
        return out

    def test_hex_dump_matches_the_bytes(self):
        """--hex-dump FILE: the dump, read back, holds exactly the bytes sent (stdin, after
        -C) and received (the echo), with consecutive offsets"""
        data = random_bytes(70000, seed=5) + b"tail\n"
        with serve("echo") as srv, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dump.txt")
            r = run([SOCKIT, "connect", "--hex-dump", path, "127.0.0.1", str(srv.port)],
                    input=data)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertSameBytes(r.stdout, data)
            with open(path) as f:
                dump = self.parse_dump(f.read())
        self.assertSameBytes(bytes(dump[">"]), data, "bytes sent in the dump")
        self.assertSameBytes(bytes(dump["<"]), data, "bytes received in the dump")

    def test_hex_dump_to_stderr_on_listen(self):
        """listen --hex-dump -: the dump goes to stderr, naming the peer"""
        lp = spawn([SOCKIT, "listen", "-v", "--hex-dump", "-", "127.0.0.1:0"])
        port = sktest.parse_addr(read_stderr_line(lp, r"Listening on (\S+)").group(1))[1]
        with sktest.connect(port) as c:
            c.sendall(b"hello\n")
            c.shutdown(socket.SHUT_WR)
            lp.stdin.write(b"back\n")
            lp.stdin.close()
            got = sktest.recv_until_eof(c)
        self.assertEqual(lp.wait(TIMEOUT), 0)
        err = lp.stderr.read().decode()
        self.assertEqual(got, b"back\n")
        self.assertEqual(lp.stdout.read(), b"hello\n")
        dump = self.parse_dump("\n".join(l for l in err.splitlines()
                                         if not l.startswith("Connection received")))
        self.assertEqual((bytes(dump["<"]), bytes(dump[">"])), (b"hello\n", b"back\n"))

    def keepalive_timer(self, local_port):
        """The timer of the TCP socket bound to local_port in /proc/net/tcp: (kind, ticks)
        where kind 2 is the keepalive timer, 0 none."""
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                lport = int(fields[1].split(":")[1], 16)
                if lport == local_port and fields[3] == "01":  # ESTABLISHED
                    kind, ticks = fields[5].split(":")
                    return int(kind, 16), int(ticks, 16)
        return None

    def test_keepalive_sets_the_timer(self):
        """--keepalive=7,3,4: the client's socket has its keepalive timer armed, due within
        7 s; without the option it has none (read once the server's greeting has come
        through, so the options are set)"""
        for args, want in ((["--keepalive=7,3,4"], 2), ([], 0)):
            with self.subTest(args=args):
                ps = PyListener(reply=b"hi\n")
                sport = free_port()
                proc = spawn([SOCKIT, "connect", "-p", str(sport)] + args +
                             ["127.0.0.1", str(ps.port)])
                self.assertEqual(sktest.read_pipe(proc.stdout, 3), b"hi\n")
                timer = self.keepalive_timer(sport)
                proc.stdin.close()
                self.assertEqual(proc.wait(TIMEOUT), 0)
                ps.join()
                self.assertIsNotNone(timer, "no ESTABLISHED socket from port %d" % sport)
                self.assertEqual(timer[0], want, timer)
                if want:
                    self.assertLessEqual(timer[1], 7 * os.sysconf("SC_CLK_TCK"), timer)

    def test_keepalive_usage(self):
        """--keepalive=bad and --keepalive with --udp or a Unix address: exit 2"""
        for args in (["--keepalive=x"], ["--keepalive=1,2,3,4"], ["--keepalive", "-u"],
                     ["--keepalive=5"]):
            with self.subTest(args=args):
                addr = "unix:/nonexistent" if args == ["--keepalive=5"] else "127.0.0.1:9"
                r = run([SOCKIT, "connect"] + args + [addr], input=b"")
                self.assertEqual(r.returncode, 2, r.stderr)


class Messages(Case):
    def test_url_goes_to_get(self):
        r = run([SOCKIT, "connect", "http://127.0.0.1:80"], input=b"")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"URLs go to 'sockit get URL'", r.stderr)

    def test_port_zero_is_invalid(self):
        """one rule for every client command: port 0 is an invalid port, exit 2"""
        for argv in (["connect", "127.0.0.1", "0"], ["connect", "127.0.0.1:0"],
                     ["connect", "-u", "127.0.0.1:0"], ["bench", "-d", "1", "127.0.0.1:0"],
                     ["probe", "127.0.0.1", "0"], ["get", "http://127.0.0.1:0/"]):
            with self.subTest(argv=argv):
                r = run([SOCKIT] + argv, input=b"")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"invalid port '0'", r.stderr)

    def test_refused_clients_exit_1(self):
        """a client turned away by serve --max-conns (the busy line, then a clean EOF) or
        by --deny (a reset) exits 1, the busy line said on stderr, not written to stdout"""
        with serve("echo", "--max-conns", "1") as srv:
            with sktest.connect(srv.port) as holder:
                srv.wait_log(r"^Connection received on ")
                for stdin in (b"", b"hello\n"):
                    with self.subTest(stdin=stdin):
                        r = run([SOCKIT, "connect", "127.0.0.1", str(srv.port)], input=stdin)
                        self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)
                        self.assertIn(b"refused: the server is busy", r.stderr)
        with serve("echo", "--deny", "127.0.0.1") as srv:
            r = run([SOCKIT, "connect", "127.0.0.1", str(srv.port)], input=b"hello\n")
            self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)

    def test_nc_options_name_the_sockit_way(self):
        for cmd, opt, hint in (("connect", "-l", b"sockit listen"),
                               ("connect", "-z", b"sockit probe"),
                               ("listen", "-p", b"sockit listen :PORT"),
                               ("connect", "-U", b"unix:/PATH"),
                               ("connect", "--output=x", b"--hex-dump"),
                               ("listen", "--chat", b"sockit serve chat")):
            with self.subTest(cmd=cmd, opt=opt):
                r = run([SOCKIT, cmd, opt, "127.0.0.1:9"], input=b"")
                self.assertEqual(r.returncode, 2)
                self.assertIn(b"unknown option", r.stderr)
                self.assertIn(hint, r.stderr)
        r = run([SOCKIT, "connect", "--no-such", "127.0.0.1:9"], input=b"")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"unknown option '--no-such'\nUsage:", r.stderr)


class UdpListen(Case):
    @sktest.needs("nc")
    def test_listen_udp_against_nc(self):
        """listen --udp (nc -u -l): the first datagram's sender is the peer; its datagrams
        go to stdout, stdin lines go back to it, one datagram each"""
        lp = spawn([SOCKIT, "listen", "-u", "-v", "127.0.0.1:0"])
        port = sktest.parse_addr(read_stderr_line(lp, r"Listening on (\S+) \(udp\)").group(1))[1]
        nc = spawn([NC, "-u", "127.0.0.1", str(port)])
        nc.stdin.write(b"ping\n")
        nc.stdin.flush()
        read_stderr_line(lp, r"Connection received on 127\.0\.0\.1:\d+ \(udp\)")
        self.assertEqual(sktest.read_pipe(lp.stdout, 5), b"ping\n")
        lp.stdin.write(b"pong\n")
        lp.stdin.flush()
        self.assertEqual(sktest.read_pipe(nc.stdout, 5), b"pong\n")
        for p in (nc, lp):
            p.kill()
            p.wait(5)

    def test_keep_follows_the_latest_sender(self):
        """listen -u -k answers whoever sent the latest datagram; without -k, the first
        sender only (others are ignored, named under -v)"""
        for keep in (True, False):
            with self.subTest(keep=keep):
                lp = spawn([SOCKIT, "listen", "-u", "-v"] + (["-k"] if keep else []) +
                           ["127.0.0.1:0"])
                port = sktest.parse_addr(read_stderr_line(
                    lp, r"Listening on (\S+) \(udp\)").group(1))[1]
                a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for s in (a, b):
                    s.settimeout(TIMEOUT)
                a.sendto(b"from a\n", ("127.0.0.1", port))
                self.assertEqual(sktest.read_pipe(lp.stdout, 7), b"from a\n")
                b.sendto(b"from b\n", ("127.0.0.1", port))
                if keep:
                    self.assertEqual(sktest.read_pipe(lp.stdout, 7), b"from b\n")
                else:
                    read_stderr_line(lp, r"Ignored 7 bytes from 127\.0\.0\.1:\d+")
                lp.stdin.write(b"answer\n")
                lp.stdin.flush()
                self.assertEqual((b if keep else a).recv(100), b"answer\n")
                lp.kill()
                lp.wait(5)
                a.close()
                b.close()


class Bounds(Case):
    def test_oversized_datagram_is_an_error(self):
        """listen -u on a Unix datagram socket: a 100000-byte datagram does not fit the
        64 KiB buffer; it is reported (exit 1), never written cut short"""
        d = tempfile.mkdtemp()
        path = os.path.join(d, "s.sock")
        lp = spawn([SOCKIT, "listen", "-u", "-v", "unix:" + path])
        read_stderr_line(lp, r"Listening on unix:")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            c.bind(os.path.join(d, "c.sock"))
            c.sendto(b"x" * 100000, path)
        self.assertEqual(lp.wait(TIMEOUT), 1)
        self.assertEqual(lp.stdout.read(), b"")
        self.assertIn(b"a datagram of 100000 bytes does not fit", lp.stderr.read())
        shutil.rmtree(d, ignore_errors=True)

    def test_frame_eof_over_the_maximum(self):
        """--frame eof --max-frame 10 with 13 bytes of stdin: exit 1, and the peer sees a
        reset, not the EOF that would end a (truncated) message"""
        ps = PyListener()
        r = run([SOCKIT, "connect", "--frame", "eof", "--max-frame", "10", "127.0.0.1",
                 str(ps.port)], input=b"0123456789ABC")
        ps.join()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"over the 10-byte maximum frame", r.stderr)
        self.assertEqual((ps.data, ps.resets), ([], 1), "the peer saw a clean EOF: %r" % ps.data)

    def test_udp_wait_options(self):
        """listen -u -w SEC: no datagram in time is exit 1; connect -u -w is a usage
        error (a datagram socket does not connect: --linger and -i bound its waits)"""
        r = run([SOCKIT, "listen", "-u", "-w", "0.3", "127.0.0.1:0"], stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"no datagram within 0.3 s", r.stderr)
        r = run([SOCKIT, "connect", "-u", "-w", "1", "127.0.0.1:9"], input=b"")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--linger", r.stderr)

    def test_keepalive_limits(self):
        """--keepalive CNT above Linux's 127 (or IDLE above 32767) is a usage error"""
        for v in ("1,1,128", "32768", "1,32768"):
            with self.subTest(v=v):
                r = run([SOCKIT, "connect", "--keepalive=" + v, "127.0.0.1:9"], input=b"")
                self.assertEqual(r.returncode, 2, r.stderr)
        ps = PyListener()
        r = run([SOCKIT, "connect", "--keepalive=32767,32767,127", "127.0.0.1",
                 str(ps.port)], input=b"")
        ps.join()
        self.assertEqual(r.returncode, 0, r.stderr)


class UdpBroadcast(Case):
    def test_broadcast_needs_the_option(self):
        """a broadcast destination without --broadcast: exit 1, saying it needs it"""
        r = run([SOCKIT, "connect", "-u", "255.255.255.255:9"], input=b"x\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"needs --broadcast", r.stderr)

    def test_broadcast(self):
        """connect -u --broadcast to 127.255.255.255 (loopback's broadcast address): a
        Python server bound to that address gets the datagram, and its answer, from
        another socket and so another address, is printed, the sender named under -v"""
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.255.255.255", 0))
        rx.settimeout(TIMEOUT)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        proc = spawn([SOCKIT, "connect", "-u", "-b", "-v", "--linger", "0.5",
                      "127.255.255.255:%d" % port])
        proc.stdin.write(b"who\n")
        proc.stdin.close()
        data, sender = rx.recvfrom(100)
        tx.sendto(b"seen " + data, sender)
        self.assertEqual(proc.wait(TIMEOUT), 0)
        self.assertEqual(proc.stdout.read(), b"seen who\n")
        self.assertIn(b"Datagram from 127.0.0.1:%d" % tx.getsockname()[1], proc.stderr.read())
        rx.close()
        tx.close()


if __name__ == "__main__":
    sktest.main()
