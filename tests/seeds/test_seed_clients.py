"""The seeds' Python programs (tests/seeds/seed*.py) against sockit's C programs, both ways:
the seed clients against `sockit serve` (every model) and the examples' servers; the
seed servers against the examples' clients and `sockit connect`; the seed browser and
resolver against http.server and the C resolve."""
import os
import tempfile
import unittest

from sktest import MODELS, connect, recv_until_eof, run
from seedlib import (GREETING, Server, example, http_server, seed, serve, sockit,
                     split_http)
import seedlib

GOT_RE = r"^Got connection from \('127\.0\.0\.1', (\d+)\)$"


class SeedEchoClient(unittest.TestCase):
    """seed001_echo_client.py: sendall(message), print ONE recv(4096)."""

    def check(self, port, message="Hello, world"):
        r = run(seed("seed001_echo_client.py", "127.0.0.1", port, message))
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, message.encode() + b"\n", b""))

    def test_vs_sockit_serve_echo_each_model(self):
        for model in MODELS:
            with self.subTest(model=model), serve("echo", model) as srv:
                self.check(srv.port)
                self.check(srv.port, "second client, same server")
                srv.wait_log(r"^Connection received on 127\.0\.0\.1:\d+$")
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_vs_examples_echo_server(self):
        with Server([example("echo_server"), "127.0.0.1:0"]) as srv:
            self.check(srv.port, "seed client, C server")
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)


class SeedGreetClient(unittest.TestCase):
    """seed004_greet_client.py: connect, print(s.recv(1024).decode()), close."""

    def check(self, port):
        r = run(seed("seed004_greet_client.py", "127.0.0.1", port))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, GREETING + b"\n", b""))

    def test_vs_sockit_serve_greet_each_model(self):
        for model in MODELS:
            with self.subTest(model=model), serve("greet", model) as srv:
                for _ in range(3):
                    self.check(srv.port)
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_vs_examples_greet_server(self):
        with Server([example("greet_server"), "127.0.0.1:0"], capture=True) as srv:
            for _ in range(3):
                self.check(srv.port)
                self.assertRegex(srv.out.next_line(), GOT_RE)


class SeedEchoServer(unittest.TestCase):
    """seed001_echo_server.py: one client, recv(4096)/sendall until b'', then exit."""

    def seed_server(self):
        return Server(seed("seed001_echo_server.py", "127.0.0.1", 0))

    def test_examples_echo_client(self):
        with self.seed_server() as srv:
            r = run([example("echo_client"), "127.0.0.1:%d" % srv.port, "C client, seed server"])
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (0, b"C client, seed server\n", b""))
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)

    def test_examples_echo_client_long_message(self):
        msg = "".join(chr(ord("A") + i % 26) for i in range(50000))
        with self.seed_server() as srv:
            r = run([example("echo_client"), "127.0.0.1:%d" % srv.port, msg])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, msg.encode() + b"\n")
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)

    def test_sockit_connect(self):
        with self.seed_server() as srv:
            r = run([sockit(), "connect", "127.0.0.1", str(srv.port)], input=b"hello\n")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)

    def test_sockit_connect_binary_1mib(self):
        # sockit connect half-closes on stdin EOF; the seed server echoes to the end
        payload = os.urandom(1 << 20)
        with self.seed_server() as srv:
            r = run([sockit(), "connect", "127.0.0.1:%d" % srv.port], input=payload, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(r.stdout), len(payload))
            self.assertTrue(r.stdout == payload, "echo differs")
            self.assertEqual(srv.wait_exit(), 0, srv.log_lines)


class SeedGreetServer(unittest.TestCase):
    """seed004_greet_server.py: accept loop, print 'Got connection from', addr, send, close."""

    def seed_server(self):
        return Server(seed("seed004_greet_server.py", "127.0.0.1", 0), capture=True)

    def test_startup_lines(self):
        with self.seed_server() as srv:
            self.assertEqual([srv.out.next_line() for _ in range(3)],
                             ["Socket successfully created", "socket binded to 0",
                              "socket is listening"])

    def test_examples_greet_client_in_a_row(self):
        with self.seed_server() as srv:
            ports = []
            for _ in range(3):
                r = run([example("greet_client"), "127.0.0.1:%d" % srv.port])
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, GREETING + b"\n", b""))
                ports.append(int(srv.out.wait(GOT_RE).group(1)))
            self.assertEqual(len(set(ports)), 3, ports)

    def test_sockit_connect(self):
        with self.seed_server() as srv:
            for _ in range(2):
                r = run([sockit(), "connect", "-v", "127.0.0.1", str(srv.port)])
                self.assertEqual((r.returncode, r.stdout), (0, GREETING), r.stderr)
                self.assertEqual(r.stderr, b"Connected to 127.0.0.1:%d\n" % srv.port)
                srv.out.wait(GOT_RE)

    def test_python_client_port_is_printed(self):
        with self.seed_server() as srv:
            with connect(srv.port) as s:
                port = s.getsockname()[1]
                self.assertEqual(recv_until_eof(s), GREETING)
            self.assertEqual(srv.out.wait(r"^Got connection from").string,
                             "Got connection from ('127.0.0.1', %d)" % port)


class SeedBrowser(unittest.TestCase):
    """seed002_browser.py: GET over a raw socket, recv until b'', the reply to stdout."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = {"index.txt": b"seed 002 says hello\n",
                     "random.bin": os.urandom(2 * 1024 * 1024 + 7)}
        for name, data in cls.files.items():
            with open(os.path.join(cls.tmp.name, name), "wb") as f:
                f.write(data)
        cls.httpd = http_server(cls.tmp.name).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.__exit__(None, None, None)
        cls.tmp.cleanup()

    def browse(self, path):
        r = run(seed("seed002_browser.py", "127.0.0.1", self.httpd.port, path), timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        return r.stdout

    def test_files_byte_exact(self):
        for name, data in self.files.items():
            with self.subTest(name=name):
                status, headers, body = split_http(self.browse("/" + name))
                self.assertEqual(status, b"HTTP/1.0 200 OK")
                self.assertEqual(headers.get("content-length"), str(len(data)).encode())
                self.assertTrue(body == data, "body of %s differs (%d bytes, want %d)"
                                % (name, len(body), len(data)))

    def test_404(self):
        status, _, _ = split_http(self.browse("/missing"))
        self.assertRegex(status, rb"^HTTP/1\.0 404 ")

    def test_same_body_as_examples_http_get(self):
        seed_body = split_http(self.browse("/index.txt"))[2]
        r = run([example("http_get"), "127.0.0.1", str(self.httpd.port), "/index.txt"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(split_http(r.stdout)[2], seed_body)


class SeedResolve(unittest.TestCase):
    """seed004_resolve.py: gethostbyname, next to examples/resolve."""

    def test_localhost_same_as_c_resolve(self):
        py = run(seed("seed004_resolve.py", "localhost"))
        c = run([example("resolve"), "localhost"])
        self.assertEqual((py.returncode, py.stdout), (0, b"127.0.0.1\n"), py.stderr)
        self.assertEqual(c.stdout, py.stdout)

    def test_invalid_name(self):
        # the seed's handler: print the message and sys.exit() -- status 0, on stdout
        py = run(seed("seed004_resolve.py", "no-such-host.invalid"), timeout=30)
        self.assertEqual((py.returncode, py.stdout, py.stderr),
                         (0, b"there was an error resolving the host\n", b""))
        c = run([example("resolve"), "no-such-host.invalid"], timeout=30)
        self.assertEqual((c.returncode, c.stdout), (1, b""))
        self.assertIn(b"there was an error resolving the host", c.stderr)


if __name__ == "__main__":
    seedlib.main()
