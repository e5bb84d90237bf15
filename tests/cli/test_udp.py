"""sockit serve SERVICE --udp and sockit connect --udp, as a black box: every service answers
each datagram on its own (under every model), the loop guard (no reply to a source port
below 1024, nor to an unnamed Unix socket), Unix datagram and IPv6 listeners, the client's
one-line-one-datagram rule and its linger, hostile floods, and socat / nc interop."""
import os
import re
import shutil
import signal
import socket
import sys
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import sktest
from sktest import Case, SOCKIT, Server, each_model, random_bytes, run, serve

EPOCH_1900 = 2208988800
GREET_DEFAULT = b"Thank you for connecting"
DGRAM_MAX = 65507
SHORT = 0.3  # bounded wait when asserting that something does NOT arrive
SOCAT = shutil.which("socat")
NC = shutil.which("nc")


def udp_serve(service, *args, model=None, addr="127.0.0.1:0", **kw):
    return serve(service, "--udp", *args, model=model, addr=addr, **kw)


def udp_client(family=socket.AF_INET, bind=None, timeout=sktest.DEFAULT_TIMEOUT):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    if bind is not None:
        s.bind(bind)
    return s


def ask(sock, addr, payload, bufsize=65536):
    """Send one datagram to addr and return the one reply (bounded by the socket's timeout)."""
    sock.sendto(payload, addr)
    data, frm = sock.recvfrom(bufsize)
    return data


def assert_no_reply(case, sock, wait=SHORT):
    old = sock.gettimeout()
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return
    finally:
        sock.settimeout(old)
    case.fail("unexpected reply %r" % data[:80])


def free_udp_port(host="127.0.0.1", family=socket.AF_INET):
    """A UDP port nobody holds right now (bind to 0, read it, close)."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def bind_privileged(family=socket.AF_INET, host="127.0.0.1", ports=range(1000, 899, -1)):
    """A UDP socket bound to host:PORT with PORT < 1024, or None if none can be had."""
    for port in ports:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.bind((host, port))
        except OSError:
            s.close()
            continue
        s.settimeout(sktest.DEFAULT_TIMEOUT)
        return s
    return None


from sktest import have_ipv6_loopback


def check_chargen_datagram(case, data):
    """0-512 characters of the RFC 864 pattern: printable ASCII in ring order, lines
    broken by CR LF."""
    case.assertLessEqual(len(data), 512, "chargen datagram too long")
    for i, b in enumerate(data):
        case.assertTrue(32 <= b < 127 or b in (13, 10), "byte %d of %r" % (i, data))
    # CR is always followed by LF, and LF preceded by CR (where both are in the datagram)
    for i, b in enumerate(data):
        if b == 13 and i + 1 < len(data):
            case.assertEqual(data[i + 1], 10, "CR not followed by LF in %r" % data)
        if b == 10 and i > 0:
            case.assertEqual(data[i - 1], 13, "LF not preceded by CR in %r" % data)
    # within a line, each character is the next one of the 95-character ring
    for line in data.split(b"\r\n"):
        line = line.strip(b"\r\n")
        for a, b in zip(line, line[1:]):
            case.assertEqual((a - 32 + 1) % 95, b - 32, "not the ring order: %r" % line)
        case.assertLessEqual(len(line), 72, "line longer than 72 characters: %r" % line)


@each_model
class UdpModels(Case):
    """Every service over UDP, under every model (the main loop serves datagrams)."""

    def stopped_cleanly(self, srv):
        self.assertIsNone(srv.proc.poll(), "server exited early; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines)

    def each_echo_exact(self, model):
        """echo: each datagram comes back exactly: text, empty, binary with NULs, 65507 bytes"""
        payloads = [b"hello\n", b"", b"\x00", b"\x00\xff\r\n\x00" * 50,
                    random_bytes(1472, seed=1), random_bytes(DGRAM_MAX, seed=2)]
        with udp_serve("echo", model=model) as srv:
            with udp_client() as c:
                for p in payloads:
                    got = ask(c, (srv.host, srv.port), p)
                    self.assertSameBytes(got, p, "echo of a %d-byte datagram" % len(p))
            # datagrams are answered by the main loop: no process per datagram
            self.assertEqual(sktest.child_pids(srv.proc.pid), [])
            self.stopped_cleanly(srv)

    def each_echo_interleaved_clients(self, model):
        """several clients interleaved: each gets exactly its own replies, in order"""
        with udp_serve("echo", model=model) as srv:
            clients = [udp_client() for _ in range(4)]
            try:
                for round_ in range(25):
                    for i, c in enumerate(clients):
                        c.sendto(b"client %d msg %d" % (i, round_), (srv.host, srv.port))
                for i, c in enumerate(clients):
                    got = [c.recv(65536) for _ in range(25)]
                    self.assertEqual(got, [b"client %d msg %d" % (i, r) for r in range(25)])
                    assert_no_reply(self, c, 0.05)
            finally:
                for c in clients:
                    c.close()
            self.stopped_cleanly(srv)

    def each_all_services(self, model):
        """daytime, time, greet, chargen and discard answer one datagram each"""
        for service in ("daytime", "time", "greet", "chargen", "discard"):
            with self.subTest(service=service), udp_serve(service, model=model) as srv:
                with udp_client() as c:
                    if service == "discard":
                        c.sendto(b"drop me", (srv.host, srv.port))
                        srv.wait_log(r"Datagram from 127\.0\.0\.1:%d" % c.getsockname()[1])
                        assert_no_reply(self, c)
                    else:
                        got = ask(c, (srv.host, srv.port), b"x")
                        if service == "time":
                            self.assertEqual(len(got), 4, repr(got))
                        elif service == "greet":
                            self.assertEqual(got, GREET_DEFAULT)
                        elif service == "daytime":
                            self.assertTrue(got.endswith(b"\r\n"), repr(got))
                        else:
                            check_chargen_datagram(self, got)
                self.stopped_cleanly(srv)


class UdpServices(Case):
    def test_listening_line(self):
        """-v announces 'Listening on 127.0.0.1:PORT (udp)' with the real port"""
        with udp_serve("echo") as srv:
            line = [l for l in srv.log_lines if "Listening on" in l][0]
            self.assertRegex(line, r"^Listening on 127\.0\.0\.1:(\d+) \(udp\)$")
            self.assertNotEqual(srv.port, 0)
            # and it really is a UDP port: a TCP connect there is refused
            with self.assertRaises(ConnectionRefusedError):
                sktest.connect(srv.port, timeout=2).close()
            self.assertEqual(srv.stop(), 0)

    def test_echo_logs_each_datagram(self):
        """-v logs each datagram with its source"""
        with udp_serve("echo") as srv, udp_client() as c:
            self.assertEqual(ask(c, (srv.host, srv.port), b"abc"), b"abc")
            srv.wait_log(r"Datagram from 127\.0\.0\.1:%d" % c.getsockname()[1])

    def test_discard_no_reply(self):
        """discard: nothing comes back, even for several datagrams"""
        with udp_serve("discard") as srv, udp_client() as c:
            for i in range(5):
                c.sendto(b"payload %d" % i, (srv.host, srv.port))
            srv.wait_log(r"Datagram from .*\(9 bytes\)")
            assert_no_reply(self, c)
            self.assertEqual(srv.stop(), 0)

    def test_chargen_lengths_vary(self):
        """chargen: 200 replies, each 0-512 characters of the pattern, lengths varying"""
        lengths = []
        with udp_serve("chargen") as srv, udp_client() as c:
            for i in range(200):
                got = ask(c, (srv.host, srv.port), b"%d" % i)
                check_chargen_datagram(self, got)
                lengths.append(len(got))
            self.assertEqual(srv.stop(), 0)
        self.assertGreater(len(set(lengths)), 50, "lengths hardly vary: %r" % sorted(set(lengths)))
        self.assertGreater(max(lengths), 256, "never more than half of 512: %r" % max(lengths))
        self.assertLess(min(lengths), 256, "never less than half of 512: %r" % min(lengths))

    def test_daytime(self):
        """daytime: one printable line with the year, ending CR LF"""
        with udp_serve("daytime") as srv, udp_client() as c:
            before = time.localtime(time.time() - 5).tm_year
            got = ask(c, (srv.host, srv.port), b"")
            after = time.localtime(time.time() + 5).tm_year
        self.assertTrue(got.endswith(b"\r\n"), repr(got))
        self.assertEqual(got.count(b"\n"), 1, repr(got))
        self.assertEqual(got.count(b"\r"), 1, repr(got))
        self.assertTrue(all(32 <= b < 127 for b in got[:-2]) and len(got) > 2, repr(got))
        self.assertTrue(str(before).encode() in got or str(after).encode() in got, repr(got))

    def test_time(self):
        """time: 4 bytes, big-endian seconds since 1900 within 3 s of now"""
        with udp_serve("time") as srv, udp_client() as c:
            for payload in (b"", b"anything"):
                got = ask(c, (srv.host, srv.port), payload)
                now = time.time()
                self.assertEqual(len(got), 4, repr(got))
                (t,) = struct.unpack(">I", got)
                want = int(now + EPOCH_1900) % (1 << 32)
                self.assertLessEqual(abs(t - want), 3, "time %d, now %d" % (t, want))

    def test_greet_default_and_message(self):
        """greet: the default message, and --message TEXT exactly"""
        with udp_serve("greet") as srv, udp_client() as c:
            self.assertEqual(ask(c, (srv.host, srv.port), b"hi"), GREET_DEFAULT)
        msg = "Hello, wörld!\n\ttab\n"
        with udp_serve("greet", "--message", msg) as srv, udp_client() as c:
            self.assertEqual(ask(c, (srv.host, srv.port), b"hi"), msg.encode())
            self.assertEqual(ask(c, (srv.host, srv.port), b""), msg.encode())

    def test_oversize_datagram_ignored(self):
        """a datagram that cannot be sent over IPv4 does not exist; check the limit: 65508
        bytes cannot even be sent, and the server still answers afterwards"""
        with udp_serve("echo") as srv, udp_client() as c:
            with self.assertRaises(OSError):
                c.sendto(b"x" * (DGRAM_MAX + 1), (srv.host, srv.port))
            self.assertEqual(ask(c, (srv.host, srv.port), b"ok"), b"ok")


class LoopGuard(Case):
    def test_privileged_source_port_gets_no_reply(self):
        """a datagram from a source port below 1024 gets no reply and is logged; a normal
        client right after still gets its reply"""
        priv = bind_privileged()
        if priv is None:
            self.skipTest("cannot bind a UDP port below 1024 (not root?)")
        with priv, udp_serve("echo") as srv:
            port = priv.getsockname()[1]
            priv.sendto(b"bounce?", (srv.host, srv.port))
            m = srv.wait_log(r"Datagram from 127\.0\.0\.1:%d\b.*" % port)
            self.assertIn("below 1024", m.group(0))
            assert_no_reply(self, priv)
            with udp_client() as c:
                self.assertEqual(ask(c, (srv.host, srv.port), b"normal"), b"normal")
            self.assertEqual(srv.stop(), 0)

    def test_privileged_source_every_service(self):
        """the guard holds for every answering service (chargen, daytime, time, greet)"""
        priv = bind_privileged()
        if priv is None:
            self.skipTest("cannot bind a UDP port below 1024 (not root?)")
        with priv:
            for service in ("chargen", "daytime", "time", "greet"):
                with self.subTest(service=service), udp_serve(service) as srv:
                    priv.sendto(b"x", (srv.host, srv.port))
                    srv.wait_log(r"below 1024")
                    assert_no_reply(self, priv, 0.2)

    def test_port_1024_gets_reply(self):
        """the boundary: source port 1024 is not privileged and gets its reply"""
        s = bind_privileged(ports=[1024])
        if s is None:
            self.skipTest("cannot bind UDP port 1024")
        with s, udp_serve("echo") as srv:
            self.assertEqual(ask(s, (srv.host, srv.port), b"edge"), b"edge")


def spoof_udp(src, sport, dst, dport, payload):
    """Send one IPv4 UDP datagram with a source address and port of our choosing (a raw
    socket, IP_HDRINCL: root only). The kernel fills in the IP checksum and id; the UDP
    checksum 0 means none (IPv4 allows it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as r:
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP,
                         0, socket.inet_aton(src), socket.inet_aton(dst))
        r.sendto(ip + udp, (dst, 0))


STATS_RE = r"^Stats: .*, (\d+) bytes in, (\d+) bytes out, (\d+) datagrams$"


def datagram_count(srv):
    """The server's datagram total, from a Stats line asked for with SIGUSR1 (the log may
    hold many lines before it: a pump reads them)."""
    n0 = len(srv.log_lines)
    srv.signal(signal.SIGUSR1)
    deadline = time.monotonic() + sktest.DEFAULT_TIMEOUT
    i = n0
    while True:
        while i < len(srv.log_lines):
            m = re.search(STATS_RE, srv.log_lines[i])
            i += 1
            if m:
                return int(m.group(3))
        if srv.read_log_line(deadline) is None:
            raise AssertionError("no Stats line; log: %r" % srv.log_lines[-5:])


def settled_count(case, srv, within=10.0):
    """The datagram total once it stops moving (the same over 0.5 s), within `within` s."""
    deadline = time.monotonic() + within
    last = datagram_count(srv)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = datagram_count(srv)
        if now == last:
            return now
        last = now
    case.fail("the datagram count was still moving after %.0f s: %d" % (within, last))


@sktest.needs("root", "ip")  # a raw socket to spoof a datagram; a namespace of our own
@each_model
class SpoofedLoops(Case):
    """A datagram whose source is a UDP server's address starts two services answering
    each other, each reply a new request. The guards must end that within a bounded
    count."""

    def each_own_address_gets_no_reply(self, model):
        """a datagram 'from' the server's own address and port, to itself: no reply (it
        would come straight back: the loop with itself), logged once; the totals show no
        datagram served; a normal client is answered"""
        with udp_serve("echo", model=model) as srv:
            spoof_udp("127.0.0.1", srv.port, "127.0.0.1", srv.port, b"loop me")
            srv.wait_log(r"^Datagram from 127\.0\.0\.1:%d \(7 bytes\): source is this "
                         r"server's own address, no reply \(loop guard\)$" % srv.port)
            with udp_client() as c:
                self.assertEqual(ask(c, (srv.host, srv.port), b"normal"), b"normal")
            self.assertEqual(settled_count(self, srv), 1)  # the normal one only
            self.assertEqual(len([ln for ln in srv.log_lines if "loop me" in ln or
                                  "(7 bytes)" in ln]), 1)
            self.assertEqual(srv.stop(), 0)

    def loop_ends(self, a, b, start, src):
        """start() sends one datagram to B spoofed 'from' A, which starts the loop. The
        loop has begun once A has answered B; it must then end: both totals settle under
        10000, and a reply dropped by the rate limit says so in a log."""
        with sktest.LogPump(a), sktest.LogPump(b):
            start()
            sktest.wait_until(lambda: any("Datagram from %s:%d" % (src, b.port) in ln
                                          for ln in a.log_lines), 5)
        na, nb = settled_count(self, a), settled_count(self, b)
        self.assertGreater(na, 0, "the loop never started: A answered nothing")
        self.assertLess(na, 10000, "echo answered %d datagrams" % na)
        self.assertLess(nb, 10000, "chargen answered %d datagrams" % nb)
        guard = [ln for ln in a.log_lines + b.log_lines if "replies a second" in ln]
        self.assertTrue(guard, "no reply was dropped by the rate limit")

    def each_two_servers_loop_ends(self, model):
        """echo A and chargen B on a network address (10.88.0.1, on the loopback device of
        a network namespace of the test's own), default options: a datagram spoofed from A
        to B makes them answer each other until a per-source bucket (1000 a second, bursts
        of 2000) runs dry, and the first reply dropped ends the loop"""
        ns = NetnsLo(self, "10.88.0.1")
        argv = lambda svc: ns.run + [SOCKIT, "serve", svc, "--udp", "-v", "-l", "10.88.0.1:0",
                                     "--model", model]
        with sktest.Server(argv("echo")) as a, sktest.Server(argv("chargen")) as b:
            self.loop_ends(a, b, lambda: ns.python(SPOOF_SCRIPT % ("10.88.0.1", a.port,
                                                                   "10.88.0.1", b.port)),
                           "10.88.0.1")
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)

    def each_loopback_loop_ends_when_limited(self, model):
        """on loopback the limit applies once set explicitly (by default a loopback
        source is exempt: only this host's root can spoof one): --reply-rate 1000 on both,
        a spoofed datagram from A to B, the loop ends; then a normal client is answered"""
        with udp_serve("echo", "--reply-rate", "1000", model=model) as a, \
                udp_serve("chargen", "--reply-rate", "1000", model=model) as b:
            self.loop_ends(a, b, lambda: spoof_udp("127.0.0.1", a.port, "127.0.0.1", b.port,
                                                   b"start"), "127.0.0.1")
            with udp_client() as c:
                self.assertEqual(ask(c, (a.host, a.port), b"fresh"), b"fresh")
                c.sendto(b"x", (b.host, b.port))
                check_chargen_datagram(self, c.recv(65536))
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)


SPOOF_SCRIPT = """
import socket, struct
src, sport, dst, dport = %r, %d, %r, %d
payload = b"start"
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as r:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP,
                     0, socket.inet_aton(src), socket.inet_aton(dst))
    r.sendto(ip + udp, (dst, 0))
"""


class NetnsLo:
    """A network namespace of the test's own whose loopback device also has `addr`/24, so
    that servers there have a network (not loopback) address; removed at the end."""

    def __init__(self, case, addr):
        self.name = sktest.netns_add("skU", ["addr", "add", addr + "/24", "dev", "lo"])
        case.addCleanup(sktest.netns_delete, self.name)
        self.run = ["ip", "netns", "exec", self.name]

    def python(self, script):
        subprocess.run(self.run + [sys.executable, "-c", script], check=True, timeout=10)


class ReplyRate(Case):
    def test_loopback_source_exempt_by_default(self):
        """without --reply-rate a loopback source is not limited: 4000 datagrams (twice
        the default burst) from one socket, answered one by one, all get their reply"""
        with udp_serve("echo") as srv:
            with udp_client() as c:
                for i in range(4000):
                    self.assertEqual(ask(c, (srv.host, srv.port), b"%d" % i), b"%d" % i)
            self.assertEqual(srv.stop(), 0)
            self.assertFalse([ln for ln in srv.log_lines if "replies a second" in ln])

    def test_reply_rate_per_source(self):
        """--reply-rate 50,10: a source address sending 40 datagrams at once gets about
        the burst (10) answered, the rest dropped and logged; another socket of the same
        address is limited with it (a reflection's victim is an address, whatever the
        port); another address (127.0.0.2) still gets its reply; after 0.2 s (10 more
        tokens) the first source is answered again"""
        with udp_serve("echo", "--reply-rate", "50,10") as srv:
            with udp_client() as c, udp_client(bind=("127.0.0.2", 0)) as d, \
                    udp_client() as e:
                for i in range(40):
                    c.sendto(b"%d" % i, (srv.host, srv.port))
                e.sendto(b"same", (srv.host, srv.port))  # the same address, empty bucket
                got = []
                c.settimeout(0.3)
                try:
                    while True:
                        got.append(c.recv(100))
                except socket.timeout:
                    pass
                self.assertGreaterEqual(len(got), 10)
                self.assertLess(len(got), 20, "replies: %r" % got)
                assert_no_reply(self, e, wait=0.01)  # sent with the burst: any reply is in
                self.assertEqual(ask(d, (srv.host, srv.port), b"other"), b"other")
                time.sleep(0.2)
                c.settimeout(sktest.DEFAULT_TIMEOUT)
                self.assertEqual(ask(c, (srv.host, srv.port), b"again"), b"again")
            self.assertEqual(srv.stop(), 0)
            dropped = [ln for ln in srv.log_lines if "over 50 replies a second to one source"
                       in ln]
            self.assertGreater(len(dropped), 15)

    def test_reply_rate_usage(self):
        """--reply-rate needs --udp; a bad value is a usage error (exit 2)"""
        for args in (["--reply-rate", "10"], ["--udp", "--reply-rate", "x"],
                     ["--udp", "--reply-rate", "10,0"], ["--udp", "--reply-rate", "-1"]):
            r = run([SOCKIT, "serve", "echo", "-l", "127.0.0.1:0"] + args, timeout=5)
            self.assertEqual(r.returncode, 2, "%r: %r" % (args, r.stderr))


class UnixDatagram(Case):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockit-udp-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def unix_client(self, name="client.sock"):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.settimeout(3.0)  # replies are immediate on loopback; keeps a failing run short
        if name is not None:
            c.bind(os.path.join(self.dir, name))
        return c

    def test_echo_bound_client_and_file_removed(self):
        """unix:/path --udp: a client bound to its own path gets exact echoes; an unnamed
        client gets none (logged) and the server survives; the file goes on SIGTERM"""
        path = os.path.join(self.dir, "s.sock")
        with udp_serve("echo", addr="unix:" + path) as srv:
            self.assertIn("Listening on unix:%s (udp)" % path, srv.log_lines)
            self.assertTrue(os.path.exists(path))
            with self.unix_client() as c:
                for p in (b"hello", b"", b"\x00bin\xff" * 100, random_bytes(60000, seed=3)):
                    c.sendto(p, path)
                    self.assertSameBytes(c.recv(1 << 17), p, "unix echo")
            with self.unix_client(None) as anon:
                anon.sendto(b"who am I", path)
                srv.wait_log(r"Datagram from .*\(8 bytes\)")
                assert_no_reply(self, anon)
            self.assertIsNone(srv.proc.poll(), "server died after an unnamed client")
            with self.unix_client("c2.sock") as c:
                c.sendto(b"again", path)
                self.assertEqual(c.recv(100), b"again")
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(path), "socket file left behind after SIGTERM")

    def test_non_reading_and_vanished_clients(self):
        """a Unix client that floods and never reads (its queue fills: a blocking reply
        would hang the server) and one whose socket file is gone: a fresh client is
        still answered"""
        path = os.path.join(self.dir, "s.sock")
        with udp_serve("echo", addr="unix:" + path) as srv:
            drainer = drain_log_in_background(srv)
            hog = self.unix_client("hog.sock")
            hog.setblocking(False)
            sent = 0
            t0 = time.monotonic()
            while sent < 2000 and time.monotonic() - t0 < 10:
                try:
                    hog.sendto(b"h" * 100, path)
                    sent += 1
                except BlockingIOError:  # the server's queue is full for a moment
                    time.sleep(0.001)
            gone = self.unix_client("gone.sock")
            gone.sendto(b"reply to nobody", path)
            os.unlink(os.path.join(self.dir, "gone.sock"))
            gone.close()
            try:
                with self.unix_client("fresh.sock") as c:
                    c.settimeout(0.5)
                    got = None
                    for _ in range(10):
                        c.sendto(b"fresh", path)
                        try:
                            got = c.recv(100)
                            break
                        except socket.timeout:
                            continue
                    self.assertEqual(got, b"fresh")
            finally:
                hog.close()
            self.assertIsNone(srv.proc.poll())
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(10), 0)
            drainer.join(10)

    def test_unnamed_client_log_reason(self):
        """the log says why an unnamed Unix client gets no reply (server.h: 'nor to an
        unnamed Unix socket'), not that its 'source port' is below 1024"""
        path = os.path.join(self.dir, "s.sock")
        with udp_serve("echo", addr="unix:" + path) as srv:
            with self.unix_client(None) as anon:
                anon.sendto(b"who am I", path)
                m = srv.wait_log(r"Datagram from .*\(8 bytes\).*")
                assert_no_reply(self, anon, 0.1)
            self.assertIn("unnamed", m.group(0))
            self.assertNotIn("port below 1024", m.group(0))

    def test_abstract(self):
        """unix:@name --udp: an abstract datagram socket, nothing on disk"""
        name = "sockit-test-udp-%d-%d" % (os.getpid(), time.monotonic_ns() % 10**9)
        with udp_serve("echo", addr="unix:@" + name) as srv:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
                c.settimeout(sktest.DEFAULT_TIMEOUT)
                c.bind("\0" + name + "-client")
                c.sendto(b"abstract", "\0" + name)
                self.assertEqual(c.recv(100), b"abstract")
            self.assertEqual(srv.stop(), 0)

    def test_connect_udp_unix_autobinds(self):
        """sockit connect --udp unix:/path gets replies (the client autobinds), against a
        Python server and against sockit serve echo --udp"""
        path = os.path.join(self.dir, "py.sock")
        srvsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        srvsock.bind(path)
        srvsock.settimeout(sktest.DEFAULT_TIMEOUT)
        seen = []

        def serve_two():
            for _ in range(2):
                data, frm = srvsock.recvfrom(65536)
                seen.append((data, frm))
                if frm:
                    srvsock.sendto(b"<" + data + b">", frm)

        t = threading.Thread(target=serve_two, daemon=True)
        t.start()
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "unix:" + path],
                    input=b"one\ntwo\n")
            t.join(5)
        finally:
            srvsock.close()
        self.assertEqual([d for d, _ in seen], [b"one\n", b"two\n"])
        self.assertTrue(seen[0][1], "the client was unnamed: no reply possible")
        self.assertEqual((r.returncode, r.stdout), (0, b"<one\n><two\n>"), r.stderr)

        spath = os.path.join(self.dir, "e.sock")
        with udp_serve("echo", addr="unix:" + spath) as srv:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "unix:" + spath],
                    input=b"alpha\nbeta\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"alpha\nbeta\n"), r.stderr)
            self.assertEqual(srv.stop(), 0)


@unittest.skipUnless(have_ipv6_loopback(), "IPv6 loopback ::1 unusable")
class Ipv6(Case):
    def test_echo_v6(self):
        """--udp -l [::1]:0 answers an AF_INET6 client"""
        with udp_serve("echo", addr="[::1]:0") as srv:
            self.assertEqual(srv.host, "::1")
            self.assertIn("(udp)", [l for l in srv.log_lines if "Listening" in l][0])
            with udp_client(socket.AF_INET6) as c:
                for p in (b"v6", b"", random_bytes(5000, seed=6)):
                    self.assertSameBytes(ask(c, ("::1", srv.port), p), p)
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.3", "[::1]:%d" % srv.port],
                    input=b"over v6\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"over v6\n"), r.stderr)
            self.assertEqual(srv.stop(), 0)

    def test_over_ipv4_limit_dropped(self):
        """IPv6 can carry a 65508-byte datagram, over the 65507-byte service limit: it is
        dropped (logged), not truncated or echoed, and the server goes on"""
        with udp_serve("echo", addr="[::1]:0") as srv, udp_client(socket.AF_INET6) as c:
            c.sendto(b"x" * (DGRAM_MAX + 1), ("::1", srv.port))
            m = srv.wait_log(r"Datagram from .*\(65508 bytes\).*")
            self.assertIn("too long", m.group(0))
            assert_no_reply(self, c)
            self.assertEqual(ask(c, ("::1", srv.port), b"after"), b"after")
            self.assertEqual(srv.stop(), 0)

    def test_loop_guard_v6(self):
        """the loop guard applies to IPv6 sources too"""
        priv = bind_privileged(socket.AF_INET6, "::1")
        if priv is None:
            self.skipTest("cannot bind an IPv6 UDP port below 1024")
        with priv, udp_serve("echo", addr="[::1]:0") as srv:
            priv.sendto(b"x", ("::1", srv.port))
            srv.wait_log(r"below 1024")
            assert_no_reply(self, priv)


class ConnectUdp(Case):
    def test_lines_echoed(self):
        """each stdin line goes out and the echo comes back raw on stdout; exit 0"""
        lines = b"first\nsecond line\n\n\x00nul\xff\n"
        with udp_serve("echo") as srv:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "127.0.0.1:%d" % srv.port],
                    input=lines)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertSameBytes(r.stdout, lines, "connect --udp stdout")
            self.assertEqual(srv.stop(), 0)

    def test_exact_datagram_boundaries(self):
        """against a Python server: each line is one datagram, newline included; an
        unterminated last line is sent at EOF as its own datagram; replies go to stdout
        as they are"""
        srvsock = udp_client(bind=("127.0.0.1", 0))
        port = srvsock.getsockname()[1]
        seen = []
        want = [b"a\n", b"bb\n", b"\n", b"x" * 1000 + b"\n", b"tail"]

        def serve_all():
            try:
                while len(seen) < len(want):
                    data, frm = srvsock.recvfrom(65536)
                    seen.append(data)
                    srvsock.sendto(b"[%d:" % len(data) + data + b"]", frm)
            except OSError:
                pass

        t = threading.Thread(target=serve_all, daemon=True)
        t.start()
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "127.0.0.1:%d" % port],
                    input=b"".join(want))
            t.join(5)
        finally:
            srvsock.close()
        self.assertEqual(seen, want)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(b"[%d:" % len(d) + d + b"]" for d in want))

    def test_reply_without_newline_written_raw(self):
        """replies are written exactly, with nothing added (no newline), several per line"""
        srvsock = udp_client(bind=("127.0.0.1", 0))
        port = srvsock.getsockname()[1]

        def serve_one():
            try:
                data, frm = srvsock.recvfrom(65536)
                for part in (b"A", b"", b"B\x00", b"C"):
                    srvsock.sendto(part, frm)
            except OSError:
                pass

        t = threading.Thread(target=serve_one, daemon=True)
        t.start()
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "127.0.0.1:%d" % port],
                    input=b"go\n")
            t.join(5)
        finally:
            srvsock.close()
        self.assertEqual((r.returncode, r.stdout), (0, b"AB\x00C"), r.stderr)

    def test_linger_timing(self):
        """after stdin EOF it waits --linger seconds since the last reply, then exits 0"""
        with udp_serve("echo") as srv:
            for linger, lo, hi in (("0.3", 0.25, 3.0), (None, 0.9, 5.0)):
                argv = [SOCKIT, "connect", "--udp", "127.0.0.1:%d" % srv.port]
                if linger:
                    argv[2:2] = ["--linger", linger]
                t0 = time.monotonic()
                r = run(argv, input=b"ping\n")
                elapsed = time.monotonic() - t0
                self.assertEqual((r.returncode, r.stdout), (0, b"ping\n"), r.stderr)
                self.assertGreaterEqual(elapsed, lo, "linger %s: exited after %.2fs" % (linger, elapsed))
                self.assertLess(elapsed, hi, "linger %s: exited after %.2fs" % (linger, elapsed))

    def test_linger_restarts_on_each_reply(self):
        """the linger counts from the last reply: a server replying late (within the
        linger) still gets its reply printed"""
        srvsock = udp_client(bind=("127.0.0.1", 0))
        port = srvsock.getsockname()[1]

        def slow():
            try:
                data, frm = srvsock.recvfrom(65536)
                for i in range(3):
                    time.sleep(0.4)  # each reply within the 0.8 s linger of the last
                    srvsock.sendto(b"r%d;" % i, frm)
            except OSError:
                pass

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.8", "127.0.0.1:%d" % port],
                    input=b"go\n")
            t.join(5)
        finally:
            srvsock.close()
        self.assertEqual((r.returncode, r.stdout), (0, b"r0;r1;r2;"), r.stderr)

    def test_empty_stdin(self):
        """empty stdin: nothing sent, exit 0 after the linger"""
        with udp_serve("echo") as srv:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.2", "127.0.0.1:%d" % srv.port],
                    input=b"")
            self.assertEqual((r.returncode, r.stdout), (0, b""), r.stderr)
            self.assertFalse(any("Datagram" in l for l in srv.log_lines), srv.log_lines)

    def test_connection_refused(self):
        """nothing listening on the port: exit 1, 'Connection refused' on stderr"""
        port = free_udp_port()
        r = run([SOCKIT, "connect", "--udp", "--linger", "2", "127.0.0.1:%d" % port],
                input=b"anyone?\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Connection refused", r.stderr)
        self.assertEqual(r.stdout, b"")

    def test_frame_with_udp_is_usage_error(self):
        """--frame (or --max-frame) with --udp: exit 2 with a clear message"""
        for extra in (["--frame", "line"], ["--frame", "len32"], ["--max-frame", "100"]):
            r = run([SOCKIT, "connect", "--udp"] + extra + ["127.0.0.1:9"], input=b"x\n")
            self.assertEqual(r.returncode, 2, (extra, r.stderr))
            self.assertIn(b"--frame", r.stderr)
            self.assertIn(b"udp", r.stderr)

    def test_max_datagram_line(self):
        """a line of exactly 65507 bytes (newline included) is one datagram, echoed whole;
        a longer line is an error (exit 1), not a truncated or split datagram"""
        line = b"y" * (DGRAM_MAX - 1) + b"\n"
        with udp_serve("echo") as srv:
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "127.0.0.1:%d" % srv.port],
                    input=line)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertSameBytes(r.stdout, line, "65507-byte datagram")
            r = run([SOCKIT, "connect", "--udp", "--linger", "0.3", "127.0.0.1:%d" % srv.port],
                    input=b"z" * 70000 + b"\n")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertTrue(re.search(rb"65507|too long", r.stderr), r.stderr)
            self.assertEqual(r.stdout, b"")


class Hostile(Case):
    def test_flood_then_fresh_client(self):
        """2000 datagrams at full speed (replies unread, then the sender gone) cost the
        server nothing: a fresh client is answered at once, under every model"""
        for model in sktest.MODELS:
            with self.subTest(model=model), udp_serve("echo", model=model) as srv:
                # -v logs every datagram: read the log meanwhile, or the server would
                # block writing to a full stderr pipe (a test artefact, not a hang)
                drainer = drain_log_in_background(srv)
                flood = udp_client()
                flood.setblocking(False)
                t0 = time.monotonic()
                sent = 0
                while sent < 2000 and time.monotonic() - t0 < 10:
                    try:
                        flood.sendto(random_bytes(64 + sent % 1000, seed=sent),
                                     (srv.host, srv.port))
                        sent += 1
                    except BlockingIOError:
                        time.sleep(0.001)
                flood.close()  # replies still due now go to a closed port (ICMP errors)
                drainer.join(0)
                self.assertEqual(sent, 2000)
                with udp_client() as c:
                    c.settimeout(0.5)
                    got = None
                    for _ in range(10):  # the fresh datagram may wait behind the flood
                        c.sendto(b"fresh", (srv.host, srv.port))
                        try:
                            got = c.recv(100)
                            break
                        except socket.timeout:
                            continue
                    self.assertEqual(got, b"fresh")
                self.assertIsNone(srv.proc.poll())
                srv.proc.send_signal(signal.SIGTERM)
                self.assertEqual(srv.proc.wait(10), 0)
                drainer.join(10)

    def test_closed_client_then_others(self):
        """replies to clients that are gone (ICMP port unreachable) do not disturb the
        server: 50 hit-and-run clients, then a normal one"""
        with udp_serve("echo") as srv:
            for i in range(50):
                with udp_client() as c:
                    c.sendto(b"gone %d" % i, (srv.host, srv.port))
            with udp_client() as c:
                # c may get the ephemeral port of a gone client, whose reply can still be
                # on its way: such replies arrive first and are the gone ones' own text.
                c.sendto(b"here", (srv.host, srv.port))
                got = c.recv(100)
                for _ in range(50):
                    if got == b"here":
                        break
                    self.assertRegex(got, rb"^gone \d+$")
                    got = c.recv(100)
                self.assertEqual(got, b"here")
            self.assertEqual(srv.stop(), 0)


def drain_log_in_background(srv):
    """Read srv's log until the server exits (its stderr closes), on a daemon thread."""
    def drain():
        while srv.read_log_line(time.monotonic() + 60) is not None:
            pass
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    return t


@sktest.needs("socat")
class Socat(Case):
    def test_socat_client(self):
        """socat - UDP:127.0.0.1:PORT is a client of sockit serve echo --udp"""
        with udp_serve("echo") as srv:
            r = run([SOCAT, "-t", "1", "-", "UDP:127.0.0.1:%d" % srv.port], input=b"hello socat\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"hello socat\n"), r.stderr)
            srv.wait_log(r"Datagram from 127\.0\.0\.1:\d+ \(12 bytes\)")

    def start_socat(self, *addrs):
        """socat -d -d ADDR... on a free port; returns (Server-like proc, port)."""
        for _ in range(5):
            port = free_udp_port()
            argv = [SOCAT, "-d", "-d"] + [a.replace("PORT", str(port)) for a in addrs]
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            srv = Server.__new__(Server)
            srv.proc, srv.log_lines, srv._buf = p, [], b""
            try:
                srv.wait_log(r"(receiving|listening) on", timeout=5)
                return srv, port
            except AssertionError:
                srv.kill()
        self.fail("socat did not start")

    def test_connect_against_socat_recvfrom(self):
        """sockit connect --udp against socat UDP-RECVFROM:PORT,fork EXEC:cat"""
        srv, port = self.start_socat("UDP-RECVFROM:PORT,bind=127.0.0.1,fork", "EXEC:cat")
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "1", "127.0.0.1:%d" % port],
                    input=b"via socat\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"via socat\n"), r.stderr)
        finally:
            srv.kill()

    def test_connect_against_socat_listen(self):
        """sockit connect --udp against socat UDP-LISTEN:PORT PIPE (an echo)"""
        srv, port = self.start_socat("UDP-LISTEN:PORT,bind=127.0.0.1", "PIPE")
        try:
            r = run([SOCKIT, "connect", "--udp", "--linger", "1", "127.0.0.1:%d" % port],
                    input=b"one\ntwo\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"one\ntwo\n"), r.stderr)
        finally:
            srv.kill()


@sktest.needs("nc")
class Nc(Case):
    def test_nc_udp_client(self):
        """nc -u is a client of sockit serve echo --udp"""
        with udp_serve("echo") as srv:
            r = run([NC, "-u", "-w", "1", "127.0.0.1", str(srv.port)], input=b"hello nc\n",
                    timeout=15)
            self.assertEqual(r.stdout, b"hello nc\n", r.stderr)


class ReviewRegressions(Case):
    """Defects a review found; each test failed before its fix."""

    def test_second_udp_server_cannot_take_the_port(self):
        """no SO_REUSEADDR on UDP: a second server on the same port is refused, rather
        than silently sharing (and stealing) the first one's datagrams"""
        with udp_serve("echo") as srv:
            r = run([SOCKIT, "serve", "discard", "--udp", "-l", "127.0.0.1:%d" % srv.port],
                    timeout=10)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"Address already in use", r.stderr)
            with udp_client() as c:
                self.assertEqual(ask(c, ("127.0.0.1", srv.port), b"still mine"), b"still mine")

    def test_connect_udp_waits_when_the_queue_is_full(self):
        """20000 lines into a Unix datagram socket (a queue of ~10): the client waits for
        room instead of failing with EAGAIN"""
        d = tempfile.mkdtemp(prefix="sockit-udp-")
        try:
            path = os.path.join(d, "e.sock")
            with udp_serve("echo", addr="unix:" + path) as srv:
                drain_log_in_background(srv)  # -v logs every datagram: keep stderr flowing
                lines = b"".join(b"%d\n" % i for i in range(20000))
                r = run([SOCKIT, "connect", "--udp", "--linger", "0.5", "unix:" + path],
                        input=lines, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertGreater(len(r.stdout), 0)
                srv.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_longest_line_and_one_byte_more(self):
        """a 65506-byte line plus newline is one datagram; 65507 plus newline is refused
        with a clear message, not EMSGSIZE"""
        with udp_serve("discard") as srv:
            ok = run([SOCKIT, "connect", "--udp", "--linger", "0.1",
                      "127.0.0.1:%d" % srv.port], input=b"x" * 65506 + b"\n", timeout=10)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            bad = run([SOCKIT, "connect", "--udp", "--linger", "0.1",
                       "127.0.0.1:%d" % srv.port], input=b"x" * 65507 + b"\n", timeout=10)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(b"does not fit in one datagram", bad.stderr)

    def test_stream_options_refused_with_udp(self):
        for args, msg in ((["--udp", "-q", "1"], b"-q and --no-half-close"),
                          (["--udp", "--no-half-close"], b"-q and --no-half-close"),
                          (["--linger", "1"], b"--linger applies only to --udp"),
                          (["--udp", "--max-frame", "10"], b"--max-frame needs --frame")):
            with self.subTest(args=args):
                r = run([SOCKIT, "connect"] + args + ["127.0.0.1:9"], timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(msg, r.stderr)


if __name__ == "__main__":
    sktest.main()
