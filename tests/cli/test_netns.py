"""sockit across a real link: two network namespaces joined by a veth pair (issue 6 §5).

    A (skA-PID)  vA 10.199.0.1/24  fd00:199::1/64 ---- vB  B (skB-PID)
                                                        10.199.0.2  fd00:199::2   answers
                                                        10.199.0.3  fd00:199::3*  silent
                                                        10.199.0.4  fd00:199::4*  } Happy
                                                        10.199.0.5  fd00:199::5*  } Eyeballs
    (* deprecated, preferred_lft 0: never the source B picks, as the IPv4 secondaries)

Servers run in B and clients in A, each through `ip netns exec NS sockit ...`; no packet
leaves the two namespaces, which this file creates and always deletes (tearDownModule,
atexit, and on SIGTERM/SIGHUP).

A silent peer is made with policy routing inside B: B has a routing table 100 holding
only a blackhole default route, and `ip rule`s send some of B's replies there. A SYN from
A arrives, and B's SYN-ACK (or RST) is dropped on output by the blackhole: no packet and
no ICMP error goes back, so A's connect hears nothing and can only time out. The rules:
`from 10.199.0.3` / `from fd00:199::3` (permanent: the "silent" address), `ipproto tcp
sport N` (per test: one port of the answering address goes silent, for probe) and `from
ADDR` for a Happy Eyeballs test's first address. test_silent_address checks in B's own
counters that the SYN arrived and nothing was sent back.

UdpReplySource is expected to fail: a UDP server on every address answers from the
kernel's choice of source address, not from the address the datagram was sent to.

Needs root and iproute2 (`ip netns`, veth); otherwise the whole file is skipped (exit 77)
with the reason printed. IPv6 cases skip themselves if B's addresses cannot be set.
"""
import atexit
import json
import os
import re
import shutil
import signal
import sys
import time
import unittest

import sktest
from sktest import SOCKIT, Case, random_bytes, run

TIMEOUT = sktest.DEFAULT_TIMEOUT
NS_A = "skA-%d" % os.getpid()
NS_B = "skB-%d" % os.getpid()
ETC_NETNS = "/etc/netns"
HOSTS_DIR = os.path.join(ETC_NETNS, NS_A)  # bind-mounted over /etc by `ip netns exec`
TABLE = "100"  # B's table with only a blackhole default route

A4, A6 = "10.199.0.1", "fd00:199::1"
B4, B6 = "10.199.0.2", "fd00:199::2"          # B's answering addresses
SILENT4, SILENT6 = "10.199.0.3", "fd00:199::3"  # B's replies from these are blackholed
HE4 = ("10.199.0.4", "10.199.0.5")             # free for the Happy Eyeballs tests
HE6 = ("fd00:199::4", "fd00:199::5")

# A hang bound, not a benchmark: a connect with -w 1 that takes longer than this waited
# for something it should not have.
HANG_BOUND = 5.0
# Happy Eyeballs must not wait for -w 5 on a silent first address; 250 ms is expected.
HE_BOUND = 3.0

HOSTS = """\
127.0.0.1 localhost
::1 localhost
%s he4.test
%s he4.test
%s he6.test
%s he6.test
%s hemix.test
%s hemix.test
%s hedead.test
%s hedead.test
""" % (HE4[0], HE4[1], HE6[0], HE6[1], HE6[0], HE4[0], SILENT4, SILENT6)

PROBE_RE = re.compile(r"^(\S+) (\d+)/tcp +(open|closed|timed-out)(?: \((.+)\))?$")


# ---- running things in the namespaces ----

class Unavailable(Exception):
    """Network namespaces (or veth) cannot be used here: skip the file."""


def ip(*args, check=True):
    """Run `ip ARGS` (bounded); raise AssertionError with ip's stderr if it fails."""
    r = run(["ip"] + [str(a) for a in args], timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError("ip %s: exit %d: %s"
                             % (" ".join(map(str, args)), r.returncode, errtext(r)))
    return r


def errtext(r):
    """A CompletedProcess's stderr as one line of text."""
    return r.stderr.decode(errors="replace").strip()


def sk_argv(ns, *args):
    """argv of `sockit ARGS` run inside namespace ns."""
    return ["ip", "netns", "exec", ns, SOCKIT] + [str(a) for a in args]


def sockit_in(ns, *args, input=b"", timeout=TIMEOUT):
    """Run sockit in ns to completion; returns (CompletedProcess, elapsed seconds)."""
    t = time.monotonic()
    r = run(sk_argv(ns, *args), input=input, timeout=timeout)
    return r, time.monotonic() - t


def serve_in(ns, service, *args, addr=None, listeners=None):
    """sktest.Server for `sockit serve SERVICE -l ADDR -v ARGS` in ns. ADDR defaults to
    every address, `:0`, which announces two listeners (0.0.0.0 and [::]) on one port
    (0.0.0.0:0 alone where the namespaces have no IPv6)."""
    if addr is None:
        addr = "0.0.0.0:0" if Net.ipv6 else ":0"
    if listeners is None:
        listeners = 2 if addr.startswith(":") else 1
    return sktest.Server(sk_argv(ns, "serve", service, "-l", addr, "-v", *args),
                         listeners=listeners)


def bracket(host):
    return "[%s]" % host if ":" in host else host


def hostport(host, port):
    return "%s:%d" % (bracket(host), port)


def snmp(ns):
    """{'Tcp': {...}, 'Ip': {...}} counters of namespace ns, from its /proc/net/snmp."""
    r = run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    out, heads = {}, {}
    for line in r.stdout.decode().splitlines():
        proto, _, rest = line.partition(":")
        fields = rest.split()
        if proto in heads:
            out[proto] = dict(zip(heads.pop(proto), (int(x) for x in fields)))
        else:
            heads[proto] = fields
    return out


# ---- the two namespaces ----

class Net:
    """The namespaces, link and addresses; create() raises Unavailable when netns or veth
    cannot be used. cleanup() is idempotent and safe after a partial create()."""
    created = []      # namespaces this process added
    made_etc_netns = False
    ipv6 = None       # None: usable; otherwise why not

    @classmethod
    def remove_stale(cls):
        """Delete the namespaces (and hosts files) of an earlier run that could not clean
        up (ctest SIGKILLs a test at its timeout): skA-PID / skB-PID whose PID is no
        longer a test_netns process."""
        r = ip("netns", "list", check=False)
        for name in re.findall(r"^(sk[AB]-(\d+))\b", r.stdout.decode(), re.M):
            ns, pid = name[0], int(name[1])
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"test_netns" in f.read():
                        continue  # a run in progress (another ctest, say)
            except OSError:
                pass
            cls.delete(ns)
            shutil.rmtree(os.path.join(ETC_NETNS, ns), ignore_errors=True)
            sys.stderr.write("test_netns: removed namespace %s left by an earlier run\n" % ns)

    @staticmethod
    def delete(ns):
        sktest.netns_delete(ns)

    @classmethod
    def create(cls):
        atexit.register(cls.cleanup)  # before the first namespace exists
        cls.remove_stale()
        for ns in (NS_A, NS_B):
            r = ip("netns", "add", ns, check=False)
            if r.returncode != 0:
                raise Unavailable("`ip netns add %s` failed: %s"
                                  % (ns, errtext(r)))
            cls.created.append(ns)
        for ns in (NS_A, NS_B):
            # No duplicate address detection on the link's addresses (the link-local ones
            # included): while B's link-local address is tentative, its first neighbour
            # discovery towards A takes about a second, which eats a UDP reply.
            r = run(["ip", "netns", "exec", ns, "sh", "-c",
                     "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && "
                     "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad"], timeout=TIMEOUT)
            if r.returncode != 0:
                cls.ipv6 = "cannot turn off IPv6 DAD in %s: %s" % (ns, errtext(r))
        # The pair is born inside the namespaces: no name is taken in the caller's.
        r = ip("link", "add", "vA", "netns", NS_A, "type", "veth", "peer", "name", "vB",
               "netns", NS_B, check=False)
        if r.returncode != 0:
            raise Unavailable("cannot create a veth pair: %s" % errtext(r))
        ip("-n", NS_A, "addr", "add", A4 + "/24", "dev", "vA")
        for a in (B4, SILENT4) + HE4:
            ip("-n", NS_B, "addr", "add", a + "/24", "dev", "vB")
        try:
            if cls.ipv6:
                raise AssertionError(cls.ipv6)
            # nodad: usable at once, not "tentative" for a second or two. B's extra
            # addresses are deprecated (preferred_lft 0): still addresses of B, but never
            # the source the kernel picks, so B6 is B's IPv6 source as B4, the first, is
            # its IPv4 one (see UdpReplySource).
            ip("-n", NS_A, "addr", "add", A6 + "/64", "dev", "vA", "nodad")
            ip("-n", NS_B, "addr", "add", B6 + "/64", "dev", "vB", "nodad")
            for a in (SILENT6,) + HE6:
                ip("-n", NS_B, "addr", "add", a + "/64", "dev", "vB", "nodad",
                   "preferred_lft", "0")
        except AssertionError as e:
            cls.ipv6 = "IPv6 unusable in the namespaces: %s" % e
        for ns, dev in ((NS_A, "vA"), (NS_B, "vB")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", dev, "up")
        ip("-n", NS_B, "-4", "route", "add", "blackhole", "default", "table", TABLE)
        ip("-n", NS_B, "-4", "rule", "add", "from", SILENT4, "table", TABLE)
        if cls.ipv6 is None:
            ip("-n", NS_B, "-6", "route", "add", "blackhole", "default", "table", TABLE)
            ip("-n", NS_B, "-6", "rule", "add", "from", SILENT6, "table", TABLE)
        if not os.path.isdir(ETC_NETNS):
            os.mkdir(ETC_NETNS)
            cls.made_etc_netns = True
        os.mkdir(HOSTS_DIR)
        with open(os.path.join(HOSTS_DIR, "hosts"), "w") as f:
            f.write(HOSTS)

    @classmethod
    def cleanup(cls):
        for ns in reversed(cls.created):
            cls.delete(ns)
        del cls.created[:]
        shutil.rmtree(HOSTS_DIR, ignore_errors=True)
        if cls.made_etc_netns:
            try:
                os.rmdir(ETC_NETNS)  # only if still empty
            except OSError:
                pass
            cls.made_etc_netns = False


def tearDownModule():
    Net.cleanup()


def need_ipv6(case):
    if Net.ipv6:
        case.skipTest(Net.ipv6)


class NetCase(Case):
    def rule(self, family, *selector):
        """Add `ip rule SELECTOR table 100` in B (its replies matching SELECTOR vanish)
        until the end of the test."""
        ip("-n", NS_B, family, "rule", "add", *selector, "table", TABLE)
        self.addCleanup(ip, "-n", NS_B, family, "rule", "del", *selector, "table", TABLE)

    def assertEcho(self, host, port, payload, *extra):
        """`sockit connect` in A to HOST:PORT: the payload comes back byte for byte."""
        r, took = sockit_in(NS_A, "connect", "-w", 5, *extra, hostport(host, port),
                            input=payload)
        self.assertEqual(r.returncode, 0, "connect %s: %r" % (hostport(host, port), r.stderr))
        self.assertSameBytes(r.stdout, payload, "echo via %s" % hostport(host, port))
        return r, took

    def assertRefused(self, ns, host, port):
        r, _ = sockit_in(ns, "connect", "-w", 5, hostport(host, port))
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stderr.decode(), "sockit: connect %s: Connection refused\n"
                         % hostport(host, port))
        self.assertEqual(r.stdout, b"")


class Reachability(NetCase):
    def test_loopback_listener_not_reachable(self):
        """A server on B's 127.0.0.1 (or ::1) is refused from A, at B's address and at
        A's own loopback, and echoes from B's loopback."""
        cases = [("127.0.0.1:0", B4, "127.0.0.1")]
        if not Net.ipv6:
            cases.append(("[::1]:0", B6, "::1"))
        for addr, remote, loop in cases:
            with self.subTest(listen=addr), serve_in(NS_B, "echo", addr=addr) as srv:
                self.assertEqual(srv.host, loop, srv.addrs)
                self.assertRefused(NS_A, remote, srv.port)
                self.assertRefused(NS_A, loop, srv.port)  # A's loopback is A's own
                payload = random_bytes(4096, seed=1)
                r, _ = sockit_in(NS_B, "connect", "-w", 5, hostport(loop, srv.port),
                                 input=payload)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertSameBytes(r.stdout, payload, "echo on B's loopback")
                self.assertEqual(srv.stop(), 0, srv.log_lines)
                self.assertFalse(any("Connection received on %s" % A4 in l
                                     for l in srv.log_lines), srv.log_lines)

    def test_every_address_listener_reachable(self):
        """`-l :0` listens on 0.0.0.0 and [::] on one port; A reaches it over IPv4 and
        IPv6, byte-exact, and the server sees A's addresses."""
        with serve_in(NS_B, "echo") as srv:
            port = srv.port
            want = ["0.0.0.0:%d" % port] + ([] if Net.ipv6 else ["[::]:%d" % port])
            self.assertEqual(sorted(srv.addrs), sorted(want))
            payload = random_bytes(200000, seed=2)
            self.assertEcho(B4, port, payload)
            srv.wait_log(r"Connection received on %s:\d+" % re.escape(A4))
            if not Net.ipv6:
                self.assertEcho(B6, port, payload)
                srv.wait_log(r"Connection received on \[%s\]:\d+" % re.escape(A6))
            self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_udp_echo(self):
        """`serve echo --udp -l :0` in B: datagrams from A come back over both families."""
        with serve_in(NS_B, "echo", "--udp") as srv:
            want = ["0.0.0.0:%d" % srv.port] + ([] if Net.ipv6 else ["[::]:%d" % srv.port])
            self.assertEqual(sorted(srv.addrs), sorted(want))
            srv.wait_log(r"Listening on 0\.0\.0\.0:%d \(udp\)" % srv.port)
            hosts = [(B4, A4)] + ([] if Net.ipv6 else [(B6, bracket(A6))])
            for host, peer in hosts:
                with self.subTest(host=host):
                    junk = random_bytes(300, seed=3).replace(b"\n", b".")
                    payload = b"hello\nworld\n" + junk + b"\n"
                    r, _ = sockit_in(NS_A, "connect", "--udp", "--linger", 0.5,
                                     hostport(host, srv.port), input=payload)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertSameBytes(r.stdout, payload, "udp echo via %s" % host)
                    srv.wait_log(r"Datagram from %s:\d+ \(6 bytes\)" % re.escape(peer))
            self.assertEqual(srv.stop(), 0, srv.log_lines)


# Sends one datagram from an unconnected socket and prints where the reply came from.
REPLY_SOURCE_PY = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"where from?\n", (host, port))
data, addr = s.recvfrom(100)
print(addr[0], addr[1], data == b"where from?\n")
"""


class UdpReplySource(NetCase):
    """A UDP server on every address must answer from the address each datagram was sent
    to, here B's secondary addresses 10.199.0.4 and fd00:199::4, while the kernel's own
    pick for a reply to A is 10.199.0.2 / fd00:199::2. A connected client, such as
    `sockit connect --udp`, drops a reply from any other address.

    serve asks for each datagram's arrival address (IP_PKTINFO / IPV6_RECVPKTINFO) and
    replies from it."""

    def reply_source(self, host):
        with serve_in(NS_B, "echo", "--udp") as srv:
            r = run(["ip", "netns", "exec", NS_A, sys.executable, "-c", REPLY_SOURCE_PY,
                     host, str(srv.port)], timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode().split(), [host, str(srv.port), "True"],
                             "the reply to %s:%d came from elsewhere" % (host, srv.port))
            r, _ = sockit_in(NS_A, "connect", "--udp", "--linger", 0.5,
                             hostport(host, srv.port), input=b"hello\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"hello\n")

    def test_ipv4_secondary_address(self):
        """a datagram to 10.199.0.4 is answered from 10.199.0.4"""
        self.reply_source(HE4[0])

    def test_ipv6_secondary_address(self):
        """a datagram to fd00:199::4 is answered from fd00:199::4"""
        need_ipv6(self)
        self.reply_source(HE6[0])


class SilentPeer(NetCase):
    def test_silent_address(self):
        """The arrangement itself: a SYN to B's silent address reaches B (B's Tcp InSegs
        grows), B sends nothing back (OutSegs, OutRsts unchanged; its reply is dropped on
        the blackhole route: Ip OutNoRoutes grows), while B's answering address works."""
        with serve_in(NS_B, "echo") as srv:
            self.assertEcho(B4, srv.port, b"control\n")
            before = snmp(NS_B)
            r, _ = sockit_in(NS_A, "connect", "-w", 1, hostport(SILENT4, srv.port))
            after = snmp(NS_B)
            self.assertEqual(r.returncode, 1, r)
            self.assertGreater(after["Tcp"]["InSegs"], before["Tcp"]["InSegs"],
                               "no SYN reached B: %r -> %r" % (before["Tcp"], after["Tcp"]))
            self.assertEqual(after["Tcp"]["OutSegs"], before["Tcp"]["OutSegs"],
                             "B answered: %r -> %r" % (before["Tcp"], after["Tcp"]))
            self.assertEqual(after["Tcp"]["OutRsts"], before["Tcp"]["OutRsts"])
            self.assertGreater(after["Ip"]["OutNoRoutes"], before["Ip"]["OutNoRoutes"],
                               "reply not blackholed: %r -> %r" % (before["Ip"], after["Ip"]))

    def test_connect_timeout(self):
        """`connect -w 1` to a listening port whose SYN-ACKs vanish: exit 1 with
        'Connection timed out', after about 1 s and well within the hang bound."""
        hosts = [SILENT4] + ([] if Net.ipv6 else [SILENT6])
        with serve_in(NS_B, "echo") as srv:
            for host in hosts:
                with self.subTest(host=host):
                    r, took = sockit_in(NS_A, "connect", "-w", 1, hostport(host, srv.port),
                                        input=b"never sent\n")
                    self.assertEqual(r.returncode, 1, r)
                    self.assertEqual(r.stdout, b"")
                    self.assertEqual(r.stderr.decode(), "sockit: connect %s: Connection "
                                     "timed out\n" % hostport(host, srv.port))
                    self.assertGreaterEqual(took, 0.9, "gave up before -w 1")
                    self.assertLess(took, HANG_BOUND, "connect -w 1 took %.2f s" % took)
            self.assertEqual(srv.stop(), 0, srv.log_lines)
            self.assertFalse(any("Connection received" in l for l in srv.log_lines),
                             srv.log_lines)


class Probe(NetCase):
    def probe(self, host, ports, want_status):
        r, took = sockit_in(NS_A, "probe", "-w", 1, host, ",".join(map(str, ports)))
        self.assertEqual(r.returncode, want_status, r)
        self.assertLess(took, HANG_BOUND, "probe -w 1 took %.2f s" % took)
        got = []
        for line in r.stdout.decode().splitlines():
            m = PROBE_RE.match(line)
            self.assertTrue(m, "line not 'HOST PORT/tcp STATE': %r" % line)
            got.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
        return got

    def test_open_closed_timed_out(self):
        """One probe of B's answering address: a server's port is open; a port nothing
        listens on is closed (RST, no reason); a listening port and an unused one whose
        replies B blackholes (`ip rule ... sport PORT`) are timed-out. Exit 0."""
        with serve_in(NS_B, "echo") as open_srv, serve_in(NS_B, "echo") as silent_srv:
            closed, silent_closed = 1, 2
            ports = sorted({open_srv.port, silent_srv.port, closed, silent_closed})
            self.assertEqual(len(ports), 4, ports)
            families = [("-4", B4)] + ([] if Net.ipv6 else [("-6", B6)])
            for fam, _ in families:
                for p in (silent_srv.port, silent_closed):
                    self.rule(fam, "ipproto", "tcp", "sport", p)
            state = {open_srv.port: "open", silent_srv.port: "timed-out",
                     closed: "closed", silent_closed: "timed-out"}
            for _, host in families:
                with self.subTest(host=host):
                    got = self.probe(host, [silent_srv.port, closed, open_srv.port,
                                            silent_closed], 0)
                    self.assertEqual(got, [(host, p, state[p], None) for p in ports])
            self.assertEqual(open_srv.stop(), 0, open_srv.log_lines)
            self.assertEqual(silent_srv.stop(), 0, silent_srv.log_lines)
            self.assertFalse(any("Connection received" in l for l in silent_srv.log_lines),
                             silent_srv.log_lines)

    def test_silent_address_nothing_open(self):
        """The silent address: even the listening port and the closed one time out, and
        with nothing open the exit status is 1."""
        with serve_in(NS_B, "echo") as srv:
            for host in [SILENT4] + ([] if Net.ipv6 else [SILENT6]):
                with self.subTest(host=host):
                    got = self.probe(host, [srv.port, 1], 1)
                    self.assertEqual(got, [(host, 1, "timed-out", None),
                                           (host, srv.port, "timed-out", None)])


class Bench(NetCase):
    def bench(self, *args):
        r, _ = sockit_in(NS_A, "bench", "--json", "-t", 1, *args, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        return json.loads(r.stdout)

    def test_echo_and_bulk(self):
        """bench in A against `serve echo -l :0` in B: a fixed number of echo requests,
        all verified, over IPv4 and IPv6; and a short bulk run with bytes both ways."""
        with serve_in(NS_B, "echo") as srv:
            for host in [B4] + ([] if Net.ipv6 else [B6]):
                with self.subTest(host=host):
                    obj = self.bench("-c", 4, "-n", 2000, hostport(host, srv.port))
                    self.assertEqual(obj["requests"], 2000, obj)
                    self.assertEqual((obj["errors"], obj["mismatches"]), (0, 0), obj)
                    self.assertGreater(obj["rps"], 0, obj)
            obj = self.bench("--mode", "bulk", "-c", 2, "-s", "16K", "-d", 0.5,
                             hostport(B4, srv.port))
            self.assertGreater(obj["mib_per_s_out"], 0, obj)
            self.assertGreater(obj["mib_per_s_in"], 0, obj)
            self.assertEqual(obj["mismatches"], 0, obj)
            srv.wait_log(r"Connection received on %s:\d+" % re.escape(A4))


class HappyEyeballs(NetCase):
    """Names from A's hosts file (/etc/netns/skA-PID/hosts) with two addresses in B; the
    first the resolver gives is made silent, so connect must move on after 250 ms."""

    def resolve(self, name):
        """The stream addresses of name, in the resolver's order, as seen in A."""
        r, _ = sockit_in(NS_A, "resolve", name)
        self.assertEqual(r.returncode, 0, r)
        addrs = []
        for line in r.stdout.decode().splitlines():
            fam, typ, addr = line.split()
            if typ == "stream":
                addrs.append(addr)
        return addrs

    def each_name(self, name, v6):
        if v6:
            need_ipv6(self)
        with serve_in(NS_B, "echo") as srv:
            addrs = self.resolve(name)
            self.assertEqual(len(addrs), 2, addrs)
            first, second = addrs
            payload = random_bytes(10000, seed=4)
            # Control: with nothing silent, the first address wins.
            r, _ = self.assertEcho(name, srv.port, payload, "-v")
            self.assertIn("Connected to %s" % hostport(first, srv.port), r.stderr.decode())
            self.rule("-6" if ":" in first else "-4", "from", first)
            r, took = self.assertEcho(name, srv.port, payload, "-v")
            self.assertIn("Connected to %s" % hostport(second, srv.port), r.stderr.decode())
            self.assertLess(took, HE_BOUND, "%s: waited %.2f s for a silent %s (-w 5)"
                            % (name, took, first))
            self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_ipv4_pair(self):
        """he4.test: two IPv4 addresses, the first silent"""
        self.each_name("he4.test", False)

    def test_ipv6_pair(self):
        """he6.test: two IPv6 addresses, the first silent"""
        self.each_name("he6.test", True)

    def test_mixed_families(self):
        """hemix.test: an IPv6 and an IPv4 address, the first the resolver gives silent"""
        self.each_name("hemix.test", True)

    def test_all_silent(self):
        """hedead.test: both addresses silent: connect -w 1 fails with a timeout, bounded
        by -w per attempt, not by the number of addresses times anything large."""
        need_ipv6(self)
        with serve_in(NS_B, "echo") as srv:
            self.assertEqual(sorted(self.resolve("hedead.test")), sorted([SILENT4, SILENT6]))
            r, took = sockit_in(NS_A, "connect", "-w", 1, "hedead.test", srv.port)
            self.assertEqual(r.returncode, 1, r)
            self.assertRegex(r.stderr.decode(),
                             r"^sockit: connect \S+: Connection timed out\n$")
            self.assertLess(took, HANG_BOUND, "took %.2f s" % took)


def _on_signal(signum, frame):
    # unittest records any other exception as a test error and goes on; this one stops
    # the run, unwinding the tests' with-blocks (servers stopped), then atexit cleans up.
    raise KeyboardInterrupt("signal %d" % signum)


if __name__ == "__main__":
    if not os.path.exists(SOCKIT):
        sktest.skip_file("no sockit binary at %s" % SOCKIT)
    if os.geteuid() != 0:
        sktest.skip_file("network namespaces need root (euid %d)" % os.geteuid())
    if shutil.which("ip") is None:
        sktest.skip_file("no `ip` command (Debian package iproute2)")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        Net.create()
    except Unavailable as e:
        Net.cleanup()
        sktest.skip_file(str(e))
    if Net.ipv6:
        sys.stderr.write("NOTE: %s; IPv6 cases are skipped\n" % Net.ipv6)
    sktest.main()
