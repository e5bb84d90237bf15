"""sockit serve --udp --join GROUP[@IFACE] and --ttl N, on loopback inside a network
namespace this file makes (skM-PID: lo up, a route for 224.0.0.0/4 on lo), so that no
multicast leaves it. The server and a Python sender both run in the namespace through
`ip netns exec`. Needs root and iproute2; otherwise the namespace cases are skipped
(exit 77 when nothing else could run), with the reason printed. The usage errors run
without a namespace: none of them joins a group."""
import json
import os
import shutil
import sys
import unittest

import sktest
from sktest import SOCKIT, Case, run

NS = None  # the namespace, once setUpModule() has made it
TIMEOUT = sktest.DEFAULT_TIMEOUT
GROUP, GROUP2, OTHER = "239.1.2.3", "239.1.2.4", "239.9.9.9"

# A datagram to each (host, port) from a socket bound to 127.0.0.1 with IP_RECVTTL: what
# came back, from where, with what TTL; or null when nothing came within 1 s.
SENDER = r"""
import json, socket, struct, sys
IP_RECVTTL = 12
out = []
for host, port, payload in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s.settimeout(1.0)
    s.sendto(payload.encode(), (host, port))
    try:
        data, anc, _, frm = s.recvmsg(65536, 64)
        ttl = [struct.unpack("i", v)[0] for lvl, t, v in anc if t == socket.IP_TTL]
        out.append([data.decode(), frm[0], frm[1], ttl[0] if ttl else None])
    except socket.timeout:
        out.append(None)
    s.close()
print(json.dumps(out))
"""

available = None  # None: the namespace is up; otherwise why not


def setUpModule():
    global available
    if os.geteuid() != 0:
        available = "network namespaces need root (euid %d)" % os.geteuid()
    elif shutil.which("ip") is None:
        available = "no `ip` command (Debian package iproute2)"
    if available:
        print("SKIP: multicast cases: %s" % available)
        return
    global NS
    try:
        NS = sktest.netns_add("skM", ["link", "set", "lo", "multicast", "on"],
                              ["route", "add", "224.0.0.0/4", "dev", "lo"])
    except AssertionError as e:
        available = "the namespace could not be made: %s" % e
        print("SKIP: multicast cases: %s" % available)


def tearDownModule():
    sktest.netns_cleanup()


def serve_in(*args, listeners=1):
    return sktest.Server(["ip", "netns", "exec", NS, SOCKIT, "serve", "echo", "--udp", "-v"]
                         + list(args), listeners=listeners)


def send_in(targets):
    """Run SENDER in the namespace for [(host, port, payload)]; its answers."""
    r = run(["ip", "netns", "exec", NS, sys.executable, "-c", SENDER, json.dumps(targets)],
            timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("sender: %r" % r.stderr)
    return json.loads(r.stdout)


def groups_in(path):
    """The groups joined on lo in the namespace, from /proc/net/igmp or igmp6 (hex)."""
    r = run(["ip", "netns", "exec", NS, "cat", path], timeout=TIMEOUT)
    return r.stdout.decode()


class Multicast(Case):
    def setUp(self):
        if available:
            self.skipTest(available)

    def test_join_answers_the_group_with_ttl(self):
        """--join 239.1.2.3 --ttl 7 on 0.0.0.0: a datagram to the group is answered (from
        the server's port, with TTL 7: loopback does not decrement it); one to a group not
        joined is not; a unicast datagram is answered too"""
        with serve_in("-l", "0.0.0.0:0", "--join", GROUP, "--ttl", "7") as srv:
            got = send_in([[GROUP, srv.port, "to the group"], [OTHER, srv.port, "elsewhere"],
                           ["127.0.0.1", srv.port, "unicast"]])
            self.assertEqual(got, [["to the group", "127.0.0.1", srv.port, 7], None,
                                   ["unicast", "127.0.0.1", srv.port, 7]])
            self.assertEqual(srv.stop(), 0)

    def test_default_ttl_and_two_groups_on_an_interface(self):
        """--join 239.1.2.3@lo --join 239.1.2.4 (repeatable): both groups answered, both
        joined on lo (/proc/net/igmp); without --ttl the reply has the system's TTL (64)"""
        with serve_in("-l", "0.0.0.0:0", "--join", GROUP + "@lo", "--join", GROUP2) as srv:
            got = send_in([[GROUP, srv.port, "one"], [GROUP2, srv.port, "two"]])
            self.assertEqual(got, [["one", "127.0.0.1", srv.port, 64],
                                   ["two", "127.0.0.1", srv.port, 64]])
            igmp = groups_in("/proc/net/igmp")
            on_lo, dev = set(), None
            for line in igmp.splitlines()[1:]:  # a device line, then its groups indented
                if line[:1].isdigit():
                    dev = line.split()[1]
                elif dev == "lo" and line.split():
                    on_lo.add(line.split()[0])
            for g in (GROUP, GROUP2):  # the group as the kernel prints a __be32: %08X
                hexg = "%08X" % int.from_bytes(bytes(int(x) for x in g.split(".")), "little")
                self.assertIn(hexg, on_lo, igmp)
            self.assertEqual(srv.stop(), 0)

    def test_ipv6_join(self):
        """--join ff15::1234@lo on [::]: the group is joined on lo (/proc/net/igmp6)"""
        with serve_in("-l", "[::]:0", "--join", "ff15::1234@lo") as srv:
            igmp6 = groups_in("/proc/net/igmp6")
            self.assertRegex(igmp6, r"\blo\s+ff150000000000000000000000001234\b")
            self.assertEqual(srv.stop(), 0)
        gone = groups_in("/proc/net/igmp6")
        self.assertNotIn("ff150000000000000000000000001234", gone, "left the group at exit")

    def test_join_needs_a_listener_of_its_family(self):
        """--join ff15::1 with only an IPv4 listener: exit 1, says so"""
        r = run(["ip", "netns", "exec", NS, SOCKIT, "serve", "echo", "--udp", "-l",
                 "0.0.0.0:0", "--join", "ff15::1"], timeout=TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "sockit: join ff15::1: no IPv6 datagram listener to join it on\n")


class MulticastUsage(Case):
    def usage(self, args, message, status=2):
        r = run([SOCKIT, "serve", "echo", "-l", "127.0.0.1:0"] + args, timeout=5)
        self.assertEqual(r.returncode, status, "%r: %r" % (args, r.stderr))
        self.assertEqual(r.stderr.decode().splitlines()[0], message)

    def test_errors(self):
        """--join and --ttl need --udp; a group must be multicast; an unknown interface
        is named; --ttl is 1-255 (exit 2 for usage, 1 for the interface)"""
        self.usage(["--join", GROUP], "sockit: --join, --ttl and --reply-rate apply to --udp")
        self.usage(["--ttl", "3"], "sockit: --join, --ttl and --reply-rate apply to --udp")
        self.usage(["--udp", "--join", "10.1.2.3"], "sockit: join 10.1.2.3: not a multicast "
                   "group (IPv4 224.0.0.0/4, IPv6 ff00::/8)")
        self.usage(["--udp", "--join", "nonsense"], "sockit: join nonsense: not a multicast "
                   "group (IPv4 224.0.0.0/4, IPv6 ff00::/8)")
        self.usage(["--udp", "--join", GROUP + "@nosuch0"],
                   "sockit: join %s@nosuch0: no interface 'nosuch0'" % GROUP, status=1)
        for bad in ("0", "256", "x"):
            r = run([SOCKIT, "serve", "echo", "--udp", "-l", "127.0.0.1:0", "--ttl", bad],
                    timeout=5)
            self.assertEqual(r.returncode, 2, bad)


if __name__ == "__main__":
    sktest.main()
