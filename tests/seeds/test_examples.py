"""The C examples (build/examples) against each other and against real peers:
echo_client <-> echo_server, greet_client <-> greet_server, resolve, http_get against
python3 -m http.server, and upper_server (the how-to-add-a-service example of
docs/architecture.md) under every server model, with its listing in the doc checked
against the file."""
import os
import re
import socket
import tempfile
import unittest

from sktest import connect, each_model, exchange, recv_exact, recv_until_eof, run
from seedlib import (GREETING, Server, ephemeral_range, example, have_ipv6_loopback,
                     http_server, refused_port, split_http)
import seedlib

GOT_RE = r"^Got connection from \('127\.0\.0\.1', (\d+)\)$"


class EchoExamples(unittest.TestCase):
    def test_echo_client_gets_its_message_back_and_server_exits_0(self):
        with Server([example("echo_server"), "127.0.0.1:0"]) as srv:
            r = run([example("echo_client"), "127.0.0.1:%d" % srv.port, "Hello, sockit"])
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"Hello, sockit\n", b""))
            # the server serves one client, then closes both sockets and exits 0
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)

    def test_echo_client_default_message(self):
        with Server([example("echo_server"), "127.0.0.1:0"]) as srv:
            r = run([example("echo_client"), "127.0.0.1:%d" % srv.port])
            self.assertEqual((r.returncode, r.stdout), (0, b"Hello, world\n"), r.stderr)
            self.assertEqual(srv.wait_exit(), 0)

    def test_echo_message_longer_than_the_servers_buffer(self):
        # 100 000 bytes: the server's recv(4096)/sendall loop runs ~25 times, the client
        # reads exactly what it sent
        msg = "".join(chr(ord("a") + i % 26) for i in range(100000))
        with Server([example("echo_server"), "127.0.0.1:0"]) as srv:
            r = run([example("echo_client"), "127.0.0.1:%d" % srv.port, msg])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, msg.encode() + b"\n")
            self.assertEqual(srv.wait_exit(), 0)

    def test_echo_server_with_a_python_client_byte_exact(self):
        payload = os.urandom(300000)
        with Server([example("echo_server"), "127.0.0.1:0"]) as srv:
            with connect(srv.port) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s), payload)
            self.assertEqual(srv.wait_exit(), 0)

    def test_echo_client_connection_refused_exits_1(self):
        with refused_port() as port:
            r = run([example("echo_client"), "127.0.0.1:%d" % port, "x"])
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertRegex(r.stderr.decode(), r"^echo_client: .*refused")

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback (::1)")
    def test_echo_over_ipv6_loopback(self):
        with Server([example("echo_server"), "[::1]:0"]) as srv:
            self.assertEqual(srv.host, "::1")
            r = run([example("echo_client"), "[::1]:%d" % srv.port, "six"])
            self.assertEqual((r.returncode, r.stdout), (0, b"six\n"), r.stderr)
            self.assertEqual(srv.wait_exit(), 0)


class GreetExamples(unittest.TestCase):
    def greet_server(self, addr="127.0.0.1:0"):
        return Server([example("greet_server"), addr], capture=True)

    def test_greet_clients_in_a_row(self):
        lo, hi = ephemeral_range()
        with self.greet_server() as srv:
            out = srv.out
            ports = []
            for i in range(3):
                r = run([example("greet_client"), "127.0.0.1:%d" % srv.port])
                self.assertEqual((r.returncode, r.stdout, r.stderr),
                                 (0, GREETING + b"\n", b""), "client %d" % i)
                line = out.next_line()
                m = re.match(GOT_RE, line)
                self.assertTrue(m, "server printed %r" % line)
                ports.append(int(m.group(1)))
            # the clients' ports are what the kernel gave them: ephemeral, one per client
            for p in ports:
                self.assertTrue(lo <= p <= hi, "port %d not in %d-%d: %r" % (p, lo, hi, ports))
            self.assertEqual(len(set(ports)), 3, ports)
            self.assertIsNone(srv.proc.poll(), "greet_server exited")

    def test_got_connection_from_prints_the_peer_port(self):
        # a Python client whose port is known: the server's line must name exactly it
        with self.greet_server() as srv:
            out = srv.out
            for _ in range(2):
                with connect(srv.port) as s:
                    port = s.getsockname()[1]
                    self.assertEqual(recv_until_eof(s), GREETING)
                self.assertEqual(out.next_line(),
                                 "Got connection from ('127.0.0.1', %d)" % port)

    def test_same_line_as_the_python_seed_server(self):
        # the C server's line and the seed's server.py's line, for clients with known ports
        lines = {}
        for name, argv in (("c", [example("greet_server"), "127.0.0.1:0"]),
                           ("py", seedlib.seed("seed004_greet_server.py", "127.0.0.1", 0))):
            with Server(argv, capture=True) as srv:
                out = srv.out
                with connect(srv.port) as s:
                    port = s.getsockname()[1]
                    self.assertEqual(recv_until_eof(s), GREETING, name)
                line = out.wait(r"^Got connection from").string
                lines[name] = line.replace(str(port), "PORT")
        self.assertEqual(lines["c"], lines["py"])
        self.assertEqual(lines["c"], "Got connection from ('127.0.0.1', PORT)")

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback (::1)")
    def test_got_connection_from_ipv6_is_pythons_4_tuple(self):
        with self.greet_server("[::1]:0") as srv:
            out = srv.out
            with socket.create_connection(("::1", srv.port), timeout=10) as s:
                port = s.getsockname()[1]
                self.assertEqual(recv_until_eof(s), GREETING)
            self.assertEqual(out.next_line(), "Got connection from ('::1', %d, 0, 0)" % port)

    def test_greet_client_connection_refused_exits_1(self):
        with refused_port() as port:
            r = run([example("greet_client"), "127.0.0.1:%d" % port])
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertRegex(r.stderr.decode(), r"^greet_client: .*refused")

    def test_greet_server_says_where_it_departs_from_its_seeds(self):
        """greet_server.c binds 127.0.0.1 where the seeds bind '' and gethostname(): its
        header comment says so (issue 12)"""
        with open(os.path.join(ROOT, "examples", "greet_server.c")) as f:
            header = f.read().split("*/", 1)[0]
        self.assertIn("Where it departs from the seeds", header)
        for fact in ("binds 127.0.0.1", "seed 004 binds ''", "seed 003 binds socket.gethostname()"):
            self.assertIn(fact, " ".join(header.replace(" * ", " ").split()))


class ResolveExample(unittest.TestCase):
    def test_localhost(self):
        r = run([example("resolve"), "localhost"])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"127.0.0.1\n", b""))

    def test_dotted_quad_is_itself(self):
        r = run([example("resolve"), "127.0.0.1"])
        self.assertEqual((r.returncode, r.stdout), (0, b"127.0.0.1\n"), r.stderr)

    def test_invalid_name_exits_1_with_the_seeds_message(self):
        r = run([example("resolve"), "no-such-host.invalid"], timeout=30)
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertRegex(r.stderr.decode(),
                         r"^resolve: there was an error resolving the host: .+\n$")

    def test_usage(self):
        r = run([example("resolve")])
        self.assertEqual((r.returncode, r.stdout), (2, b""))
        self.assertIn(b"usage: resolve NAME", r.stderr)


class HttpGetExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.small = b"Hello from http.server\n<p>sockit</p>\r\n\x00\xff"
        cls.big = os.urandom(2 * 1024 * 1024 + 123)
        with open(os.path.join(cls.tmp.name, "small.txt"), "wb") as f:
            f.write(cls.small)
        with open(os.path.join(cls.tmp.name, "big.bin"), "wb") as f:
            f.write(cls.big)
        cls.httpd = http_server(cls.tmp.name).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.__exit__(None, None, None)
        cls.tmp.cleanup()

    def get(self, path, timeout=30):
        r = run([example("http_get"), "127.0.0.1", str(self.httpd.port), path], timeout=timeout)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        return split_http(r.stdout)

    def test_small_file(self):
        status, headers, body = self.get("/small.txt")
        self.assertEqual(status, b"HTTP/1.0 200 OK")
        self.assertEqual(headers.get("content-length"), str(len(self.small)).encode())
        self.assertEqual(body, self.small)

    def test_2mib_random_file(self):
        status, headers, body = self.get("/big.bin")
        self.assertEqual(status, b"HTTP/1.0 200 OK")
        self.assertEqual(headers.get("content-length"), str(len(self.big)).encode())
        self.assertEqual(len(body), len(self.big))
        self.assertTrue(body == self.big, "body differs from the file")

    def test_missing_path_is_404(self):
        status, _, body = self.get("/no/such/file")
        self.assertRegex(status, rb"^HTTP/1\.0 404 ")
        self.assertIn(b"404", body)

    def test_directory_listing(self):
        status, _, body = self.get("/")
        self.assertEqual(status, b"HTTP/1.0 200 OK")
        self.assertIn(b'href="small.txt"', body)
        self.assertIn(b'href="big.bin"', body)

    def test_request_is_what_the_server_logged(self):
        self.get("/small.txt")
        m = self.httpd.err.wait(r'"GET /small\.txt HTTP/1\.1" 200')
        self.assertTrue(m)

    def test_connection_refused_exits_1(self):
        with refused_port() as port:
            r = run([example("http_get"), "127.0.0.1", str(port), "/"])
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertRegex(r.stderr.decode(), r"^http_get: .*refused")

    def test_usage(self):
        r = run([example("http_get")])
        self.assertEqual((r.returncode, r.stdout), (2, b""))
        self.assertIn(b"usage: http_get HOST [PORT] [PATH]", r.stderr)


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def upper_payload():
    """~130 KB of lines, ASCII letters and everything else (NUL, CR, bytes >= 0x80): the
    server upper-cases a-z and nothing else, as bytes.upper() does."""
    lines = []
    for i in range(1000):
        lines.append(b"line %d: Hello, World \x00\r\xc3\xa9 zZ" % i + bytes(range(128, 200))
                     + b"abcdefghijklmnopqrstuvwxyz" * (i % 3))
    return b"\n".join(lines) + b"\n"


@each_model
class UpperServerExample(unittest.TestCase):
    def server(self, model):
        return Server([example("upper_server"), "127.0.0.1:0", model])

    def each_upper_cased_byte_exact(self, model):
        payload = upper_payload()
        with self.server(model) as srv:
            with connect(srv.port) as s:
                self.assertEqual(exchange(s, payload), payload.upper())
            self.assertEqual(srv.stop(), 0, srv.log_lines)

    def each_lines_split_across_sends(self, model):
        with self.server(model) as srv:
            with connect(srv.port) as s:
                for piece in (b"he", b"llo\nwor", b"ld\n", b"no newline at the end"):
                    s.sendall(piece)
                self.assertEqual(recv_exact(s, len(b"HELLO\nWORLD\n")), b"HELLO\nWORLD\n")
                s.shutdown(socket.SHUT_WR)
                # the last line, cut by EOF, is still a line: it comes back with its "\n"
                self.assertEqual(recv_until_eof(s), b"NO NEWLINE AT THE END\n")

    def test_bad_model_is_a_usage_error(self):
        r = run([example("upper_server"), "127.0.0.1:0", "coroutines"])
        self.assertEqual((r.returncode, r.stdout), (2, b""))
        self.assertIn(b"usage: upper_server", r.stderr)

    def test_the_listing_in_docs_architecture_md_is_the_file(self):
        with open(os.path.join(ROOT, "docs", "architecture.md")) as f:
            doc = f.read()
        with open(os.path.join(ROOT, "examples", "upper_server.c")) as f:
            code = f.read()
        blocks = re.findall(r"^```c\n(.*?)^```$", doc, re.S | re.M)
        listing = [b for b in blocks if b.startswith("/*\n * upper_server.c:")]
        self.assertEqual(len(listing), 1, "one ```c block starting with upper_server.c's "
                         "header comment in docs/architecture.md")
        self.assertEqual(listing[0], code, "docs/architecture.md and examples/upper_server.c "
                         "differ: copy the file into the doc")


if __name__ == "__main__":
    seedlib.main()
