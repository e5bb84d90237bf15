"""sockit probe: which TCP ports of a host accept connections (nc -z), many at once.

Every port a test asserts on is one it holds: an open port is a Python listener, a closed
one a socket bound without listen() (the kernel refuses it, and nobody else can take it
meanwhile), and a timed-out one a listener with backlog 0 whose accept queue is full, so
that Linux drops further SYNs and a connect hangs. Ranges are made of consecutive ports
bound by the test, so their states are exact too. Only 127.0.0.0/8 and ::1 are used.
"""
import contextlib
import os
import re
import resource
import socket
import subprocess
import sys
import time
import unittest

import sktest
from sktest import SOCKIT, Case, run

TIMEOUT = sktest.DEFAULT_TIMEOUT
LINE_RE = re.compile(r"^(\S+) (\d+)/tcp +(open|closed|timed-out)( \(.+\))?$")


def probe(*args, timeout=TIMEOUT, **kw):
    """Run `sockit probe ARGS`; returns (CompletedProcess, elapsed seconds)."""
    t = time.monotonic()
    r = run([SOCKIT, "probe"] + [str(a) for a in args], timeout=timeout, **kw)
    return r, time.monotonic() - t


def parse(stdout):
    """stdout lines -> [(host, port, state)], failing on any line not in the format."""
    out = []
    for line in stdout.decode().splitlines():
        m = LINE_RE.match(line)
        if not m:
            raise AssertionError("line not in 'HOST PORT/tcp STATE' form: %r" % line)
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


class Ports:
    """Ports this test holds, each in a chosen state, on one loopback address.

    reserve(k) binds k consecutive ports (all closed: bound, not listening); then
    listen(port) opens one and hang(port) makes one time out. Everything is closed on
    exit."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socks = {}
        self.extra = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in list(self.socks.values()) + self.extra:
            s.close()
        return False

    def reserve(self, k=1):
        """Bind k consecutive free ports; returns the first."""
        for _ in range(50):
            first = socket.socket(self.family)
            first.bind((self.host, 0))
            base = first.getsockname()[1]
            got = [first]
            try:
                if base + k - 1 > 65535:
                    raise OSError("range past 65535")
                for port in range(base + 1, base + k):
                    s = socket.socket(self.family)
                    got.append(s)
                    s.bind((self.host, port))
            except OSError:
                for s in got:
                    s.close()
                continue
            for i, s in enumerate(got):
                self.socks[base + i] = s
            return base
        raise unittest.SkipTest("no %d consecutive free ports on %s" % (k, self.host))

    def bind(self, port):
        """Bind one given port (OSError if it is taken)."""
        s = socket.socket(self.family)
        try:
            s.bind((self.host, port))
        except OSError:
            s.close()
            raise
        self.socks[port] = s
        return port

    def listen(self, port, backlog=16):
        self.socks[port].listen(backlog)
        return port

    def hang(self, port):
        """Make port time out: backlog 0, accept queue filled by connects never accepted."""
        self.socks[port].listen(0)
        for _ in range(3):
            c = socket.socket(self.family)
            c.setblocking(False)
            c.connect_ex((self.host, port))
            self.extra.append(c)
        return port

    def accept(self, port, timeout=TIMEOUT):
        s = self.socks[port]
        s.settimeout(timeout)
        conn, _ = s.accept()
        return conn


_hang_works = None


def require_hang(test):
    """Skip the test unless a full backlog-0 accept queue makes connects hang here."""
    global _hang_works
    if _hang_works is None:
        with Ports() as ps:
            port = ps.hang(ps.reserve())
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", port))
                _hang_works = False
            except socket.timeout:
                _hang_works = True
            except OSError:
                _hang_works = False
            finally:
                c.close()
    if not _hang_works:
        test.skipTest("a full accept queue does not make connects hang on this kernel")


def ipv6_usable():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class States(Case):
    def test_open_port(self):
        """An open port: 'open', exit 0, and the connection is closed without a byte."""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            r, _ = probe("127.0.0.1", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", port, "open")])
            self.assertEqual(r.stderr, b"")
            with ps.accept(port) as conn:
                conn.settimeout(TIMEOUT)
                self.assertEqual(conn.recv(16), b"")

    def test_closed_port(self):
        """A refusing port: 'closed' with no reason, exit 1 (nc -z: nothing open)."""
        with Ports() as ps:
            port = ps.reserve()
            r, _ = probe("127.0.0.1", port)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout.decode(), "127.0.0.1 %-9s closed\n" % ("%d/tcp" % port))
            self.assertEqual(r.stderr, b"")

    def test_timed_out_port(self):
        """A port that never answers: 'timed-out' after -w, exit 1."""
        require_hang(self)
        with Ports() as ps:
            port = ps.hang(ps.reserve())
            r, took = probe("-w", "0.5", "127.0.0.1", port)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", port, "timed-out")])
            self.assertGreaterEqual(took, 0.45)
            self.assertLess(took, 4.0)

    def test_mixed_list_exact(self):
        """`A,B-C` with A above the range: ascending order and every state exact."""
        require_hang(self)
        with Ports() as ps:
            base = ps.reserve(6)
            ps.listen(base + 1)
            ps.hang(base + 3)
            ps.listen(base + 5)
            r, _ = probe("-w", "0.5", "127.0.0.1", "%d,%d-%d" % (base + 5, base, base + 4))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [
                ("127.0.0.1", base, "closed"),
                ("127.0.0.1", base + 1, "open"),
                ("127.0.0.1", base + 2, "closed"),
                ("127.0.0.1", base + 3, "timed-out"),
                ("127.0.0.1", base + 4, "closed"),
                ("127.0.0.1", base + 5, "open"),
            ])

    def test_several_lists_and_duplicates(self):
        """Duplicates, overlapping ranges and several PORTS arguments: each port once."""
        with Ports() as ps:
            base = ps.reserve(4)
            ps.listen(base + 2)
            lst = "%d,%d-%d,%d" % (base + 2, base, base + 2, base + 1)
            r, _ = probe("127.0.0.1", lst, "%d-%d" % (base + 1, base + 3), base)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([p for _, p, _ in parse(r.stdout)], list(range(base, base + 4)))
            self.assertEqual(parse(r.stdout)[2], ("127.0.0.1", base + 2, "open"))

    def test_output_aligned(self):
        """The state column lines up for 1- and 5-digit ports; fields split on spaces."""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            r, _ = probe("127.0.0.1", "1,%d" % port)
            lines = r.stdout.decode().splitlines()
            self.assertEqual(len(lines), 2, r.stdout)
            self.assertTrue(lines[0].startswith("127.0.0.1 1/tcp "), lines)
            self.assertEqual(lines[1], "127.0.0.1 %-9s open" % ("%d/tcp" % port))
            col = [l.index(l.split()[2], len("127.0.0.1 1/tcp")) for l in lines]
            self.assertEqual(col[0], col[1], lines)


class Concurrency(Case):
    def test_timeouts_run_concurrently(self):
        """20 silent ports with -w 0.5 take about 0.5 s, not 20 x 0.5 s."""
        require_hang(self)
        with Ports() as ps:
            base = ps.reserve(20)
            for p in range(base, base + 20):
                ps.hang(p)
            r, took = probe("-w", "0.5", "127.0.0.1", "%d-%d" % (base, base + 19))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", p, "timed-out")
                                               for p in range(base, base + 20)])
            self.assertLess(took, 5.0, "took %.2f s: ports probed one by one?" % took)

    @sktest.skip_under_valgrind("it times rounds of 0.5 s against the wall clock")
    def test_concurrency_limit_respected(self):
        """-c 4 over 8 silent ports with -w 0.5 takes two rounds (about 1 s), -c 8 one."""
        require_hang(self)
        with Ports() as ps:
            base = ps.reserve(8)
            for p in range(base, base + 8):
                ps.hang(p)
            spec = "%d-%d" % (base, base + 7)
            r4, took4 = probe("-c", "4", "-w", "0.5", "127.0.0.1", spec)
            self.assertEqual(len(parse(r4.stdout)), 8, r4.stdout)
            self.assertGreaterEqual(took4, 0.95)
            r8, took8 = probe("-c", "8", "-w", "0.5", "127.0.0.1", spec)
            self.assertEqual(len(parse(r8.stdout)), 8, r8.stdout)
            self.assertLess(took8, 0.95)

    def test_streams_lower_ports_first(self):
        """A decided port is printed while a higher one is still pending."""
        require_hang(self)
        with Ports() as ps:
            base = ps.reserve(2)
            ps.listen(base)
            ps.hang(base + 1)
            t = time.monotonic()
            proc = subprocess.Popen([SOCKIT, "probe", "-w", "4", "127.0.0.1",
                                     "%d-%d" % (base, base + 1)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                first = proc.stdout.readline()
                got_first = time.monotonic() - t
                rest = proc.stdout.read()
                proc.wait(TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)
                proc.stdout.close()
            self.assertEqual(parse(first), [("127.0.0.1", base, "open")])
            self.assertLess(got_first, 2.0, "the open port waited for the silent one")
            self.assertEqual(parse(rest), [("127.0.0.1", base + 1, "timed-out")])
            self.assertEqual(proc.returncode, 0)

    def test_many_closed_ports_fast(self):
        """200 refusing ports: 200 lines in order, all closed, quickly."""
        with Ports() as ps:
            base = ps.reserve(200)
            r, took = probe("-w", "1", "127.0.0.1", "%d-%d" % (base, base + 199))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", p, "closed")
                                               for p in range(base, base + 200)])
            self.assertLess(took, 5.0)

    def test_low_fd_limit(self):
        """RLIMIT_NOFILE 40 with -c 1000 over 60 silent ports: the ports in flight are
        capped by the limit, none fails with EMFILE, and all are decided in a few rounds."""
        require_hang(self)
        with Ports() as ps:
            base = ps.reserve(60)
            ps.listen(base + 59)
            for p in range(base, base + 59):
                ps.hang(p)

            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

            r, took = probe("-c", "1000", "-w", "0.5", "127.0.0.1", "%d-%d" % (base, base + 59),
                            preexec_fn=limit)
            self.assertNotIn(b"Too many open files", r.stdout + r.stderr)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", p, "timed-out")
                                               for p in range(base, base + 59)]
                             + [("127.0.0.1", base + 59, "open")])
            self.assertLess(took, 8.0)

    def test_inherited_fds_eat_the_budget(self):
        """When inherited fds leave fewer descriptors than the limit suggests, EMFILE puts
        ports back in the queue instead of reporting them closed."""
        require_hang(self)
        # A wrapper that sets RLIMIT_NOFILE 64 and holds fds 3..42 (EMFILE goes by fd
        # number, so the fds must be low ones), then execs sockit.
        wrapper = ("import os, resource, sys\n"
                   "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
                   "for _ in range(40):\n"
                   "    os.set_inheritable(os.open('/dev/null', os.O_RDONLY), True)\n"
                   "os.execv(sys.argv[1], sys.argv[1:])\n")
        with Ports() as ps:
            base = ps.reserve(60)
            ps.listen(base + 30)
            for p in range(base, base + 60):
                if p != base + 30:
                    ps.hang(p)
            t = time.monotonic()
            r = run([sys.executable, "-c", wrapper, SOCKIT, "probe", "-w", "0.5", "127.0.0.1",
                     "%d-%d" % (base, base + 59)])
            took = time.monotonic() - t
            self.assertNotIn(b"Too many open files", r.stdout + r.stderr)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = parse(r.stdout)
            self.assertEqual([p for _, p, _ in got], list(range(base, base + 60)))
            self.assertEqual([s for _, _, s in got].count("timed-out"), 59)
            self.assertEqual(got[30], ("127.0.0.1", base + 30, "open"))
            self.assertLess(took, 8.0)


class Options(Case):
    def test_open_filter(self):
        """--open prints only the open ports, still in order."""
        with Ports() as ps:
            base = ps.reserve(5)
            ps.listen(base + 1)
            ps.listen(base + 3)
            r, _ = probe("--open", "127.0.0.1", "%d-%d" % (base, base + 4))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", base + 1, "open"),
                                               ("127.0.0.1", base + 3, "open")])

    def test_open_filter_nothing_open(self):
        """--open with nothing open: no output, exit 1."""
        with Ports() as ps:
            base = ps.reserve(3)
            r, _ = probe("--open", "127.0.0.1", "%d-%d" % (base, base + 2))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, b"")

    def test_verbose_summary(self):
        """-v: one summary line on stderr with the counts; stdout unchanged."""
        with Ports() as ps:
            base = ps.reserve(5)
            ps.listen(base)
            ps.listen(base + 4)
            r, _ = probe("-v", "127.0.0.1", "%d-%d" % (base, base + 4))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(parse(r.stdout)), 5)
            self.assertRegex(r.stderr.decode(), r"\Aprobe 127\.0\.0\.1: 2 open, 3 closed, "
                                                 r"0 timed out in \d+\.\d\d s\n\Z")

    def test_help(self):
        r = run([SOCKIT, "probe", "--help"])
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for word in ("HOST PORT/tcp STATE", "--timeout", "--concurrency", "--open", "timed-out",
                     "--source ADDR", "--source-port PORT", "nc -s", "nc -p"):
            self.assertIn(word, out)

    def test_closed_stdout(self):
        """stdout a pipe nobody reads: exit 1 quietly (no SIGPIPE death, no message)."""
        with Ports() as ps:
            base = ps.reserve(50)
            rfd, wfd = os.pipe()
            os.close(rfd)
            try:
                r = subprocess.run([SOCKIT, "probe", "127.0.0.1", "%d-%d" % (base, base + 49)],
                                   stdout=wfd, stderr=subprocess.PIPE, timeout=TIMEOUT)
            finally:
                os.close(wfd)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr, b"")


class Usage(Case):
    def assertUsage(self, args, message):
        r, _ = probe(*args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertIn(message, r.stderr.decode())

    def test_reversed_range(self):
        self.assertUsage(["127.0.0.1", "80,30-20"], "sockit: invalid port range '30-20'\n")

    def test_port_out_of_range(self):
        self.assertUsage(["127.0.0.1", "70000"], "sockit: invalid port '70000'\n")
        self.assertUsage(["127.0.0.1", "1-70000"], "sockit: invalid port '70000'\n")

    def test_port_zero(self):
        self.assertUsage(["127.0.0.1", "0"], "sockit: invalid port '0'\n")
        self.assertUsage(["127.0.0.1", "0-5"], "sockit: invalid port '0'\n")

    def test_empty_list(self):
        self.assertUsage(["127.0.0.1", ""], "sockit: empty port list\n")
        self.assertUsage(["127.0.0.1", "80,,81"], "sockit: empty item in port list '80,,81'\n")

    def test_malformed_items(self):
        for item, msg in [("1-", "invalid port range '1-'"),
                          ("1-2-3", "invalid port range '1-2-3'"),
                          ("--5", "invalid port range '--5'"), ("8 0", "invalid port '8 0'"),
                          ("no-such-service", "invalid port 'no-such-service'")]:
            with self.subTest(item=item):
                self.assertUsage(["127.0.0.1", "--", item] if item.startswith("-")
                                 else ["127.0.0.1", item], msg)

    def test_missing_arguments_and_bad_options(self):
        for args, msg in [([], "missing HOST"), (["127.0.0.1"], "missing PORTS"),
                          (["-w", "0", "127.0.0.1", "80"], "invalid timeout '0'"),
                          (["-c", "0", "127.0.0.1", "80"], "invalid concurrency '0'"),
                          (["-c", "1001", "127.0.0.1", "80"], "invalid concurrency '1001'"),
                          (["-x", "127.0.0.1", "80"], "unknown option '-x'"),
                          (["-w"], "option '-w' needs a value"),
                          (["a b", "80"], "invalid host name 'a b'")]:
            with self.subTest(args=args):
                self.assertUsage(args, msg)

    def test_service_name(self):
        """A service name is one port: `http` is 80."""
        try:
            port = socket.getservbyname("http", "tcp")
        except OSError:
            self.skipTest("no /etc/services entry for http")
        r, _ = probe("-w", "0.5", "127.0.0.1", "http")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertEqual([p for _, p, _ in parse(r.stdout)], [port])


class UsageIssue12(Case):
    """Usage errors issue 12 found or added (each failed before its fix)."""

    assertUsage = Usage.assertUsage

    def test_host_colon_port_suggests_host_ports(self):
        """HOST:PORT, the form the other commands take, is not 'missing PORTS': probe
        names the form it takes and the command to type"""
        for arg, host, port in (("127.0.0.1:5000", "127.0.0.1", "5000"),
                                ("[::1]:80", "::1", "80"), ("localhost:http", "localhost", "http")):
            with self.subTest(arg=arg):
                r, _ = probe(arg)
                self.assertEqual((r.returncode, r.stdout), (2, b""), r.stderr)
                self.assertEqual(r.stderr.decode().splitlines()[0],
                                 "sockit: probe takes HOST PORTS, not HOST:PORT: try 'sockit probe "
                                 "%s %s'" % (host, port))
        self.assertUsage(["::1"], "sockit: missing PORTS\n")  # a bare IPv6 host is a HOST

    def test_source_options(self):
        """-p takes 1-65535 or a service name, like every client port; -s an address"""
        for args, msg in ((["-p", "0"], "sockit: invalid source port '0'"),
                          (["-p", "70000"], "sockit: invalid source port '70000'"),
                          (["--source-port", "nosuch"], "sockit: invalid source port 'nosuch'"),
                          (["-p"], "option '-p' needs a value"),
                          (["-s", ""], "sockit: empty --source"),
                          (["--source", "a b"], "sockit: --source: invalid host name 'a b'"),
                          (["-s"], "option '-s' needs a value")):
            with self.subTest(args=args):
                self.assertUsage(args + ["127.0.0.1", "80"] if len(args) > 1 else args, msg)


class Source(Case):
    """-s ADDR / -p PORT (nc -s / -p): the listener sees the probe come from there."""

    def setUp(self):
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.2", 0))
        except OSError:
            self.skipTest("127.0.0.2 unusable as a source here")

    def free_port(self, host="127.0.0.2"):
        """A port nothing uses now on host (bound, then let go for sockit to take)."""
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]

    def test_source_address(self):
        """-s 127.0.0.2: a listener on 127.0.0.1 accepts a connection from 127.0.0.2"""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            r, _ = probe("-s", "127.0.0.2", "127.0.0.1", port)
            self.assertEqual((r.returncode, r.stderr), (0, b""))
            self.assertEqual(parse(r.stdout), [("127.0.0.1", port, "open")])
            conn = ps.accept(port)
            self.assertEqual(conn.getpeername()[0], "127.0.0.2")
            conn.close()

    def test_source_address_and_port(self):
        """--source 127.0.0.2 --source-port P: the listener sees exactly 127.0.0.2:P; -v
        names the source"""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            sport = self.free_port()
            r, _ = probe("-v", "--source", "127.0.0.2", "--source-port", sport, "127.0.0.1", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.1", port, "open")])
            self.assertRegex(r.stderr.decode(), r"\Aprobe 127\.0\.0\.1 from 127\.0\.0\.2 port %d: "
                                                 r"1 open, 0 closed" % sport)
            conn = ps.accept(port)
            self.assertEqual(conn.getpeername(), ("127.0.0.2", sport))
            conn.close()

    def test_source_port_many_ports_at_once(self):
        """-p with several ports: each is still probed (concurrently: every connection has
        its own remote port), every listener sees the one source port, closed ones stay
        closed"""
        with Ports() as ps:
            base = ps.reserve(6)
            opened = [ps.listen(base + i) for i in (0, 2, 3, 5)]
            sport = self.free_port("127.0.0.1")
            r, _ = probe("-p", sport, "127.0.0.1", "%d-%d" % (base, base + 5))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout),
                             [("127.0.0.1", base + i, "open" if base + i in opened else "closed")
                              for i in range(6)])
            for port in opened:
                conn = ps.accept(port)
                self.assertEqual(conn.getpeername(), ("127.0.0.1", sport))
                conn.close()

    def test_self_connect_is_not_open(self):
        """-p P probing port P of a local address: the socket connects to itself (TCP
        simultaneous open) though nothing listens: that is 'closed', never 'open'"""
        port = self.free_port("127.0.0.1")
        r, _ = probe("-p", port, "127.0.0.1", port)
        self.assertEqual((r.returncode, r.stderr), (1, b""))
        self.assertEqual(r.stdout.decode(), "127.0.0.1 %d/tcp closed (connected to itself: "
                                            "the source port)\n" % port)

    def test_source_not_on_this_host(self):
        """an address this host does not have: one error, exit 1, no port lines"""
        r, _ = probe("-s", "192.0.2.1", "127.0.0.1", "1-100")
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertEqual(r.stderr, b"sockit: probe 127.0.0.1 from 192.0.2.1: Cannot assign "
                                   b"requested address (not an address of this host?)\n")

    def test_source_port_in_use(self):
        """a source port a listener holds: one error, exit 1"""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            target = ps.listen(ps.reserve())
            r, _ = probe("-s", "127.0.0.1", "-p", port, "127.0.0.1", target)
            self.assertEqual((r.returncode, r.stdout), (1, b""))
            self.assertEqual(r.stderr, b"sockit: probe 127.0.0.1 from 127.0.0.1 port %d: "
                                       b"Address already in use\n" % port)

    def test_source_of_another_family(self):
        """an IPv4 source for an IPv6-only HOST: exit 1, saying so"""
        r, _ = probe("-s", "127.0.0.2", "::1", "80")
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertEqual(r.stderr, b"sockit: probe ::1 from 127.0.0.2: ::1 has no address of "
                                   b"the source's family\n")

    def test_source_picks_the_family(self):
        """localhost with -s 127.0.0.2: only its IPv4 addresses are tried (an IPv6 one
        would fail to bind), and the listener sees 127.0.0.2"""
        with Ports() as ps:
            port = ps.listen(ps.reserve())
            r, _ = probe("-s", "127.0.0.2", "localhost", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("localhost", port, "open")])
            with ps.accept(port) as conn:
                self.assertEqual(conn.getpeername()[0], "127.0.0.2")


class Hosts(Case):
    def test_unresolvable_host(self):
        r, _ = probe("name.invalid", "80")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertTrue(r.stderr.decode().startswith("sockit: resolve name.invalid: "), r.stderr)

    def test_ipv6_loopback(self):
        """::1 and [::1] both work and print the host without brackets."""
        if not ipv6_usable():
            self.skipTest("IPv6 loopback unusable")
        with Ports("::1") as ps:
            base = ps.reserve(2)
            ps.listen(base + 1)
            for host in ("::1", "[::1]"):
                with self.subTest(host=host):
                    r, _ = probe(host, "%d-%d" % (base, base + 1))
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(parse(r.stdout), [("::1", base, "closed"),
                                                       ("::1", base + 1, "open")])

    def test_localhost(self):
        """`localhost` races every address it has; open on 127.0.0.1 is open."""
        with Ports() as ps:
            base = ps.reserve(2)
            ps.listen(base)
            r, took = probe("localhost", "%d-%d" % (base, base + 1))
            self.assertEqual(r.returncode, 0, r.stderr)
            got = parse(r.stdout)
            self.assertEqual(got[0], ("localhost", base, "open"))
            self.assertEqual(got[1][:2], ("localhost", base + 1))
            self.assertLess(took, 3.0)

    def test_dual_stack_race(self):
        """localhost with both ::1 and 127.0.0.1: a silent address costs only the Happy
        Eyeballs delay, whichever family the resolver puts first."""
        require_hang(self)
        fams = {ai[0] for ai in socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)}
        if fams != {socket.AF_INET, socket.AF_INET6} or not ipv6_usable():
            self.skipTest("localhost is not both 127.0.0.1 and ::1 here")
        with Ports() as v4, Ports("::1") as v6:
            port = v4.reserve()
            try:
                v6.bind(port)
            except OSError:
                self.skipTest("port %d taken on ::1" % port)
            v4.listen(port)
            v6.hang(port)
            r, took = probe("-w", "2", "localhost", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("localhost", port, "open")])
            self.assertLess(took, 1.5)

    def test_other_loopback_address(self):
        """127.0.0.2 is loopback too: a listener there is open, 127.0.0.1 is not it."""
        try:
            ps = Ports("127.0.0.2")
            port = ps.reserve()
        except (OSError, unittest.SkipTest):
            self.skipTest("127.0.0.2 unusable")
        with ps:
            ps.listen(port)
            r, _ = probe("127.0.0.2", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(parse(r.stdout), [("127.0.0.2", port, "open")])


if __name__ == "__main__":
    if not os.path.exists(SOCKIT):
        sktest.skip_file("no sockit binary at %s" % SOCKIT)
    sktest.main()
