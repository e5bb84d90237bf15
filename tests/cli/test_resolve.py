"""sockit resolve NAME [SERVICE] and sockit hostname, against Python's own view of the
same resolver (the same libc, /etc/hosts and /etc/services)."""
import os
import socket
import sys

import sktest
from sktest import SOCKIT, Case, run

FAMILIES = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}
TYPES = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM, "raw": socket.SOCK_RAW}


def resolve(*args):
    return run([SOCKIT, "resolve"] + list(args))


def rows(stdout):
    """'inet    stream  127.0.0.1:80' lines -> [(family, type, address)]."""
    out = []
    for line in stdout.decode().splitlines():
        cols = line.split()
        assert len(cols) == 3, "not 'FAMILY TYPE ADDRESS': %r" % line
        out.append(tuple(cols))
    return out


def python_rows(name, port=None, family=0):
    """What getaddrinfo(name, port) gives Python, in sockit's notation."""
    fam_names = {v: k for k, v in FAMILIES.items()}
    type_names = {v: k for k, v in TYPES.items()}
    out = []
    for fam, typ, _, _, sa in socket.getaddrinfo(name, port if port is not None else None,
                                                 family):
        host = sa[0]
        if port is None:
            addr = host
        elif fam == socket.AF_INET6:
            addr = "[%s]:%d" % (host, sa[1])
        else:
            addr = "%s:%d" % (host, sa[1])
        out.append((fam_names.get(fam, "other"), type_names.get(typ, "other"), addr))
    return out


class ResolveTests(Case):
    def test_localhost(self):
        """resolve localhost: 127.0.0.1 with its family and socket type columns, and the
        same rows as Python's getaddrinfo"""
        p = resolve("localhost")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        got = rows(p.stdout)
        self.assertIn(("inet", "stream", "127.0.0.1"), got, p.stdout)
        for fam, typ, _ in got:
            self.assertIn(fam, FAMILIES)
            self.assertIn(typ, TYPES)
        self.assertEqual(sorted(got), sorted(python_rows("localhost")))
        self.assertRegex(p.stdout.decode().splitlines()[0], r"^inet6?\s+stream\s+\S+$")

    def test_localhost_http(self):
        """resolve localhost http: port 80 on every line (127.0.0.1:80 among them)"""
        p = resolve("localhost", "http")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        got = rows(p.stdout)
        self.assertIn(("inet", "stream", "127.0.0.1:80"), got, p.stdout)
        for _, _, addr in got:
            self.assertTrue(addr.endswith(":80"), addr)
        # The service goes to getaddrinfo as given: "http" is a TCP service in
        # /etc/services, so exactly the rows Python's getaddrinfo("localhost", "http")
        # gives (stream only), where a bare 80 would also give dgram and raw.
        self.assertEqual(sorted(got), sorted(python_rows("localhost", "http")))
        self.assertNotEqual(sorted(got), sorted(python_rows("localhost", 80)))

    def test_localhost_numeric_port_every_type(self):
        """resolve localhost 80: a number has no protocol, so every socket type appears"""
        p = resolve("localhost", "80")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertEqual(sorted(rows(p.stdout)), sorted(python_rows("localhost", 80)))

    def test_numeric(self):
        """resolve 127.0.0.1 8080: the literal with the port, no lookup"""
        p = resolve("127.0.0.1", "8080")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertIn(("inet", "stream", "127.0.0.1:8080"), rows(p.stdout))
        self.assertEqual({r[2] for r in rows(p.stdout)}, {"127.0.0.1:8080"})

    def test_ipv6_literal(self):
        """resolve -6 ::1 http: inet6 rows in [::1]:80 form"""
        p = resolve("-6", "::1", "http")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        got = rows(p.stdout)
        self.assertIn(("inet6", "stream", "[::1]:80"), got)
        self.assertEqual({r[0] for r in got}, {"inet6"})

    def test_only_ipv4(self):
        """-4: only inet rows"""
        p = resolve("-4", "localhost")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        got = rows(p.stdout)
        self.assertTrue(got)
        self.assertEqual({r[0] for r in got}, {"inet"})
        self.assertIn(("inet", "stream", "127.0.0.1"), got)

    def test_only_ipv6(self):
        """-6 localhost: the inet6 rows if localhost has any here, else exit 1 with
        getaddrinfo's own reason, as Python's getaddrinfo(..., AF_INET6) reports it"""
        p = resolve("-6", "localhost")
        v6 = [r for r in python_rows("localhost") if r[0] == "inet6"]
        if v6:
            self.assertEqual((p.returncode, p.stderr), (0, b""))
            self.assertEqual(sorted(rows(p.stdout)), sorted(v6))
        else:
            self.assertEqual((p.returncode, p.stdout), (1, b""))
            try:
                socket.getaddrinfo("localhost", None, socket.AF_INET6)
                self.fail("Python found an IPv6 localhost that python_rows did not")
            except socket.gaierror as e:
                reason = e.strerror
            self.assertEqual(p.stderr, ("sockit: resolve localhost: %s\n" % reason).encode())

    def test_invalid_name(self):
        """a .invalid name: exit 1, 'sockit: resolve NAME: Name or service not known'"""
        p = resolve("no.such.host.invalid")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr,
                         b"sockit: resolve no.such.host.invalid: Name or service not known\n")


def transcripts(text, prompt="$ sockit resolve "):
    """The 'PROMPT ARGS' lines of a doc and the output lines under each (up to the next
    line starting with '$' or a blank one): [(args, [lines])]. Lines keep their indent
    stripped; roff's '\\-' reads as '-'."""
    out, cur = [], None
    for raw in text.replace("\\-", "-").splitlines():
        line = raw.strip()
        if line.startswith(prompt):
            cur = (line[len(prompt):].split(), [])
            out.append(cur)
        elif cur is not None and line and not line.startswith(("$", ".")):
            cur[1].append(line)
        else:
            cur = None
    return out


class DocsTests(Case):
    """The resolve examples in --help, sockit(1) and the README are what it prints here
    (issue 12: they showed three lines for 'resolve localhost http', which prints one)."""

    ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

    def check(self, where, text):
        examples = [(a, want) for a, want in transcripts(text) if want]
        self.assertTrue(examples, "no resolve example with its output in %s" % where)
        for args, want in examples:
            with self.subTest(where=where, args=args):
                p = resolve(*args)
                failed = want[0].startswith("sockit: ")  # an error example: stderr, exit 1
                self.assertEqual(p.returncode, 1 if failed else 0, p.stderr)
                got = p.stderr if failed else p.stdout
                self.assertEqual([" ".join(l.split()) for l in got.decode().splitlines()],
                                 [" ".join(l.split()) for l in want])

    def test_help_examples(self):
        self.check("--help", resolve("--help").stdout.decode())

    def test_man_page_examples(self):
        with open(os.path.join(self.ROOT, "man", "sockit.1")) as f:
            self.check("sockit.1", f.read())

    def test_readme_examples(self):
        with open(os.path.join(self.ROOT, "README.md")) as f:
            self.check("README.md", f.read())


class ConflictTests(Case):
    def test_four_and_six(self):
        """-4 with -6 (either order, or with other options) is a usage error, exit 2,
        before any lookup; not a runtime 'Name or service not known'"""
        for args in (["-4", "-6", "localhost"], ["-6", "-4", "localhost"], ["-46", "localhost"],
                     ["-4", "localhost", "http", "-6"]):
            with self.subTest(args=args):
                p = resolve(*args)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                lines = p.stderr.decode().splitlines()
                self.assertEqual(lines[0], "sockit: -4 and -6 exclude each other (without "
                                           "either, both families are shown)")
                self.assertEqual(lines[1], "Usage: sockit resolve [-4|-6] NAME [SERVICE]")

    def test_repeated_flag_is_fine(self):
        p = resolve("-4", "-4", "localhost")
        self.assertEqual((p.returncode, p.stderr), (0, b""))


class HostnameTests(Case):
    def hostname(self):
        p = run([SOCKIT, "hostname"])
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        lines = p.stdout.decode().split("\n")
        self.assertEqual(len(lines), 3, "want two lines: %r" % p.stdout)
        self.assertEqual(lines[2], "")
        return lines[0], lines[1]

    def test_hostname(self):
        """line 1 is socket.gethostname(); line 2 a non-empty name: Python's getfqdn() or
        the resolver's canonical name for the host"""
        name, fqdn = self.hostname()
        self.assertEqual(name, socket.gethostname())
        self.assertTrue(fqdn and not any(c.isspace() for c in fqdn), repr(fqdn))
        accepted = {socket.getfqdn()}
        try:
            for ai in socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME):
                if ai[3]:
                    accepted.add(ai[3])
        except socket.gaierror:
            accepted.add(name)
        self.assertIn(fqdn, accepted)

    def test_usage_line_has_no_trailing_space(self):
        """hostname takes no arguments: its usage line is 'Usage: sockit hostname', with
        nothing after the name (it ended with a space)"""
        p = run([SOCKIT, "hostname", "extra"])
        self.assertEqual((p.returncode, p.stdout), (2, b""))
        self.assertEqual(p.stderr, b"sockit: unexpected argument 'extra'\nUsage: sockit hostname\n"
                                   b"Try 'sockit hostname --help' for more information.\n")

    def test_fqdn_as_python_getfqdn(self):
        """line 2 compared with socket.getfqdn() (the help says 'as socket.getfqdn()');
        a difference is reported as a skip, not a failure"""
        _, fqdn = self.hostname()
        py = socket.getfqdn()
        if fqdn != py:
            msg = ("sockit hostname line 2 is %r, Python's socket.getfqdn() is %r"
                   % (fqdn, py))
            print("NOTE: " + msg, file=sys.stderr)
            self.skipTest(msg)


if __name__ == "__main__":
    sktest.main()
