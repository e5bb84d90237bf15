"""sockit's error messages and exit statuses: 'sockit: OPERATION ADDRESS: reason' on
stderr; 2 and the usage for usage errors, 1 for runtime errors; --help and --version."""
import socket

import sktest
from sktest import SOCKIT, Case, run

SUBCOMMANDS = ("serve", "connect", "resolve", "hostname")


def sockit(*args, **kw):
    return run([SOCKIT] + [str(a) for a in args], **kw)


class UsageTests(Case):
    def assertUsage(self, p, first_line):
        """exit 2, nothing on stdout, stderr = the message, then the usage"""
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, b"")
        err = p.stderr.decode()
        lines = err.splitlines()
        self.assertTrue(lines, "empty stderr")
        self.assertEqual(lines[0], first_line, err)
        self.assertTrue(any(ln.startswith("Usage: sockit") for ln in lines[1:]),
                        "no Usage: line in %r" % err)

    def test_no_command(self):
        """sockit alone: exit 2 with the usage"""
        self.assertUsage(sockit(), "sockit: missing command")

    def test_unknown_subcommand(self):
        """sockit bogus: exit 2, 'unknown command', the usage"""
        self.assertUsage(sockit("bogus"), "sockit: unknown command 'bogus'")

    def test_unknown_top_level_option(self):
        """sockit --bogus: exit 2, 'unknown option', the usage"""
        self.assertUsage(sockit("--bogus"), "sockit: unknown option '--bogus'")

    def test_unknown_option_each_subcommand(self):
        """an unknown long or short option on each subcommand: exit 2 with its usage"""
        extra = {"serve": ["echo"], "connect": ["127.0.0.1:1"], "resolve": ["localhost"],
                 "hostname": []}
        for cmd in SUBCOMMANDS:
            for opt in ("--bogus", "-Z"):
                with self.subTest(cmd=cmd, opt=opt):
                    p = sockit(cmd, *(extra[cmd] + [opt]))
                    self.assertUsage(p, "sockit: unknown option '%s'" % opt)
                    self.assertIn("Usage: sockit %s" % cmd, p.stderr.decode())

    def test_host_without_port(self):
        """connect 127.0.0.1 (port forgotten): exit 2, 'missing port', not 'invalid port'"""
        p = sockit("connect", "127.0.0.1")
        self.assertEqual((p.returncode, p.stdout), (2, b""))
        self.assertEqual(p.stderr, b"sockit: missing port in '127.0.0.1': expected HOST:PORT\n")

    def test_unknown_service(self):
        """sockit serve bogus: exit 2, 'unknown service', the serve usage"""
        self.assertUsage(sockit("serve", "bogus"), "sockit: unknown service 'bogus'")

    def test_unknown_model(self):
        """--model bogus: exit 2 with the usage"""
        p = sockit("serve", "echo", "--model", "bogus", "-l", "127.0.0.1:0")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertRegex(p.stderr.decode(), r"^sockit: unknown model 'bogus'")
        self.assertIn("Usage: sockit serve", p.stderr.decode())

    def test_missing_arguments(self):
        """missing SERVICE / ADDR / NAME and an option without its value: exit 2"""
        self.assertUsage(sockit("serve"), "sockit: missing SERVICE")
        self.assertUsage(sockit("connect"), "sockit: missing ADDR")
        self.assertUsage(sockit("resolve"), "sockit: missing NAME")
        self.assertUsage(sockit("serve", "echo", "-l"), "sockit: option '-l' needs a value")
        self.assertUsage(sockit("connect", "-w"), "sockit: option '-w' needs a value")

    def test_extra_arguments(self):
        """surplus arguments: exit 2"""
        self.assertUsage(sockit("serve", "echo", "chargen"),
                         "sockit: unexpected argument 'chargen'")
        self.assertUsage(sockit("connect", "127.0.0.1", "1", "x"),
                         "sockit: unexpected argument 'x'")
        self.assertUsage(sockit("resolve", "localhost", "http", "x"),
                         "sockit: unexpected argument 'x'")
        self.assertUsage(sockit("hostname", "x"), "sockit: unexpected argument 'x'")

    def test_message_only_for_greet(self):
        """--message with another service: exit 2"""
        self.assertUsage(sockit("serve", "echo", "--message", "x", "-l", "127.0.0.1:0"),
                         "sockit: --message applies only to the greet service")

    def test_out_of_range_numbers(self):
        """--backlog, -w and -q outside their ranges or not numbers: exit 2, nothing runs"""
        cases = [
            (["serve", "echo", "-l", "127.0.0.1:0", "--backlog", "0"], "invalid backlog '0'"),
            (["serve", "echo", "-l", "127.0.0.1:0", "-b", "65536"], "invalid backlog '65536'"),
            (["serve", "echo", "-l", "127.0.0.1:0", "-b", "ten"], "invalid backlog 'ten'"),
            (["connect", "-w", "0", "127.0.0.1:1"], "invalid timeout '0'"),
            (["connect", "-w", "abc", "127.0.0.1:1"], "invalid timeout 'abc'"),
            (["connect", "-q", "-1", "127.0.0.1:1"], "invalid quit delay '-1'"),
            (["connect", "-q", "nan", "127.0.0.1:1"], "invalid quit delay 'nan'"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                p = sockit(*args, timeout=5)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                self.assertTrue(p.stderr.decode().startswith("sockit: " + msg), p.stderr)

    def test_invalid_port(self):
        """port 99999 in every place a port goes: exit 2, "sockit: invalid port '99999'"""
        for args in (["connect", "127.0.0.1", "99999"], ["connect", "127.0.0.1:99999"],
                     ["serve", "echo", "-l", "127.0.0.1:99999"], ["serve", "echo", "-l", "99999"],
                     ["resolve", "localhost", "99999"]):
            with self.subTest(args=args):
                p = sockit(*args, timeout=5)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                self.assertEqual(p.stderr.decode().splitlines()[0],
                                 "sockit: invalid port '99999'")

    def test_port_zero_probe_and_get(self):
        """port 0 is an invalid port for probe and get (and probe's -p), exit 2, in the
        words every client command uses: "invalid port '0'" """
        for args, first in ((["probe", "127.0.0.1", "0"], "sockit: invalid port '0'"),
                            (["probe", "-p", "0", "127.0.0.1", "80"],
                             "sockit: invalid source port '0' (expected 1 to 65535 or a "
                             "service name)"),
                            (["get", "http://127.0.0.1:0/"],
                             "sockit: invalid port '0' in URL 'http://127.0.0.1:0/'")):
            with self.subTest(args=args):
                p = sockit(*args, timeout=5)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                self.assertEqual(p.stderr.decode().splitlines()[0], first)

    def test_malformed_addresses(self):
        """malformed addresses for connect and serve -l: exit 2, 'sockit: ...' naming the
        bad text, nothing on stdout"""
        cases = [
            (["connect", "[::1"], "[::1"),
            (["connect", "[::1]"], "[::1]"),
            (["connect", "127.0.0.1:"], "127.0.0.1:"),
            (["connect", "unix:"], "unix:"),
            (["serve", "echo", "-l", "abc"], "abc"),
            (["serve", "echo", "-l", "[zz]:0"], "zz"),
            (["serve", "echo", "-l", "127.0.0.1:http-nonexistent-svc"],
             "http-nonexistent-svc"),
        ]
        for args, bad in cases:
            with self.subTest(args=args):
                p = sockit(*args, timeout=5)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                err = p.stderr.decode()
                self.assertTrue(err.startswith("sockit: "), err)
                self.assertIn("'%s'" % bad, err)

    def test_too_many_listeners(self):
        """33 -l options: exit 2 (the most is 32)"""
        args = ["serve", "echo"]
        for _ in range(33):
            args += ["-l", "127.0.0.1:0"]
        p = sockit(*args, timeout=5)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("too many --listen options", p.stderr.decode())


class RuntimeErrorTests(Case):
    def test_connect_refused(self):
        """sockit connect to a closed port: exit 1, 'sockit: connect 127.0.0.1:PORT:
        Connection refused'"""
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            p = sockit("connect", "127.0.0.1:%d" % port)
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: connect 127.0.0.1:%d: Connection refused\n" % port)

    def test_bind_in_use(self):
        """serve on a port another socket listens on: exit 1, 'sockit: bind 127.0.0.1:PORT:
        Address already in use', for every model"""
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            for model in sktest.MODELS:
                with self.subTest(model=model):
                    p = sockit("serve", "echo", "-l", "127.0.0.1:%d" % port, "-m", model, "-v")
                    self.assertEqual((p.returncode, p.stdout), (1, b""), p.stderr)
                    self.assertEqual(
                        p.stderr, b"sockit: bind 127.0.0.1:%d: Address already in use\n" % port)

    def test_same_port_twice(self):
        """-l 127.0.0.1:P twice: the second bind fails, exit 1, nothing left listening"""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        addr = "127.0.0.1:%d" % port
        p = sockit("serve", "echo", "-l", addr, "-l", addr)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stderr, b"sockit: bind %s: Address already in use\n" % addr.encode())

    def test_resolve_errors(self):
        """an unresolvable name in resolve, connect and serve -l: exit 1, 'sockit: resolve
        no.such.host.invalid: Name or service not known'"""
        want = b"sockit: resolve no.such.host.invalid: Name or service not known\n"
        for args in (["resolve", "no.such.host.invalid"],
                     ["connect", "no.such.host.invalid", "80"],
                     ["connect", "no.such.host.invalid:80"],
                     ["serve", "echo", "-l", "no.such.host.invalid:0"]):
            with self.subTest(args=args):
                p = sockit(*args)
                self.assertEqual((p.returncode, p.stdout, p.stderr), (1, b"", want))


class HelpTests(Case):
    def test_top_level_help(self):
        """sockit --help, -h and help: exit 0, 'Usage:' on stdout, every subcommand listed"""
        for arg in ("--help", "-h", "help"):
            with self.subTest(arg=arg):
                p = sockit(arg)
                self.assertEqual((p.returncode, p.stderr), (0, b""))
                out = p.stdout.decode()
                self.assertTrue(out.startswith("Usage: sockit"), out)
                for cmd in SUBCOMMANDS:
                    self.assertRegex(out, r"\n  %s\s" % cmd)

    def test_subcommand_help(self):
        """--help and -h on serve, connect, resolve, hostname: exit 0, 'Usage:' on stdout,
        even with other arguments around"""
        for cmd in SUBCOMMANDS:
            for args in (["--help"], ["-h"]):
                with self.subTest(cmd=cmd, args=args):
                    p = sockit(cmd, *args)
                    self.assertEqual((p.returncode, p.stderr), (0, b""))
                    self.assertTrue(p.stdout.decode().startswith("Usage: sockit %s" % cmd),
                                    p.stdout)
        p = sockit("help", "serve")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b"Usage: sockit serve"))

    def test_serve_help_lists_services_and_models(self):
        """serve --help names every service and every model"""
        out = sockit("serve", "--help").stdout.decode()
        for name in ("echo", "discard", "chargen", "daytime", "time", "greet"):
            self.assertRegex(out, r"\n  %s\s" % name)
        for model in sktest.MODELS:
            self.assertIn(model, out)

    def test_help_unknown_command(self):
        """sockit help nosuch: exit 2, 'unknown command', the usage (it printed the top
        help and exited 0); an extra argument after a known one is refused too"""
        p = sockit("help", "nosuch")
        self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
        self.assertEqual(p.stderr, b"sockit: unknown command 'nosuch'\n"
                                   b"Usage: sockit COMMAND [OPTIONS] [ARGS]\n"
                                   b"Try 'sockit --help' for more information.\n")
        p = sockit("help", "probe", "x")
        self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
        self.assertTrue(p.stderr.startswith(b"sockit: unexpected argument 'x'\n"), p.stderr)
        for cmd in ("get", "probe", "resolve", "hostname"):
            with self.subTest(cmd=cmd):
                p = sockit("help", cmd)
                self.assertEqual((p.returncode, p.stderr), (0, b""))
                self.assertEqual(p.stdout, sockit(cmd, "--help").stdout)

    def test_no_usage_line_ends_with_a_space(self):
        """every command's usage line (after a usage error) has no trailing space"""
        for cmd in ("serve", "connect", "listen", "get", "probe", "bench", "resolve",
                    "hostname"):
            with self.subTest(cmd=cmd):
                p = sockit(cmd, "--bogus-option")
                self.assertEqual(p.returncode, 2, p.stderr)
                usage = [l for l in p.stderr.decode().split("\n") if l.startswith("Usage:")]
                self.assertEqual(len(usage), 1, p.stderr)
                self.assertEqual(usage[0], usage[0].rstrip())

    def test_version(self):
        """sockit --version: exit 0, 'sockit X.Y.Z'"""
        p = sockit("--version")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertRegex(p.stdout.decode(), r"^sockit \d+\.\d+\.\d+\S*\n$")


if __name__ == "__main__":
    sktest.main()
