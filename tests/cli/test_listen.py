"""sockit serve: listeners and the -v log. 'Listening on ADDR' with the real port,
'Connection received on ADDR' with the client's own address, several -l options, IPv6 and
Unix listeners, --backlog, and the default address localhost:5000."""
import os
import socket
import tempfile

import sktest
from sktest import SOCKIT, Case, Server, connect, each_model, exchange, serve


class UnixServer(Server):
    """Server for a unix: listener (no host and port to parse from 'Listening on')."""

    def start(self):
        try:
            return super().start()
        except ValueError:
            if not self.addrs:
                raise
            return self


@each_model
class VerboseLogTests(Case):
    def each_listening_and_connection_received(self, model):
        """-v logs 'Listening on 127.0.0.1:PORT' with the real port, then 'Connection
        received on 127.0.0.1:P' with each client's local port"""
        with serve("echo", model=model) as srv:
            self.assertEqual(len(srv.addrs), 1, srv.log_lines)
            self.assertRegex(srv.log_lines[0], r"^Listening on 127\.0\.0\.1:\d+$")
            self.assertEqual(srv.host, "127.0.0.1")
            self.assertNotEqual(srv.port, 0)
            for _ in range(3):
                with connect(srv.port) as s:
                    p = s.getsockname()[1]
                    self.assertEqual(exchange(s, b"x"), b"x")
                srv.wait_log(r"^Connection received on 127\.0\.0\.1:%d$" % p)
            self.assertEqual(srv.stop(), 0)
            received = [ln for ln in srv.log_lines if ln.startswith("Connection received")]
            self.assertEqual(len(received), 3, srv.log_lines)

    def each_two_listeners(self, model):
        """two -l options: two 'Listening on' lines with different ports, both served"""
        argv = [SOCKIT, "serve", "echo", "-l", "127.0.0.1:0", "-l", "127.0.0.1:0", "-v",
                "--model", model]
        with Server(argv, listeners=2) as srv:
            ports = [sktest.parse_addr(a)[1] for a in srv.addrs]
            self.assertEqual(len(set(ports)), 2, srv.addrs)
            for port in ports:
                with connect(port) as s:
                    me = s.getsockname()[1]
                    self.assertEqual(exchange(s, b"port %d" % port), b"port %d" % port)
                srv.wait_log(r"^Connection received on 127\.0\.0\.1:%d$" % me)
            self.assertEqual(srv.stop(), 0)


class ListenTests(Case):
    def test_ipv6_listener(self):
        """-l [::1]:0 logs 'Listening on [::1]:PORT' and serves IPv6 clients"""
        try:
            socket.socket(socket.AF_INET6).close()
            with socket.socket(socket.AF_INET6) as t:
                t.bind(("::1", 0))
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        with serve("echo", addr="[::1]:0") as srv:
            self.assertRegex(srv.addrs[0], r"^\[::1\]:\d+$")
            with connect(srv.port, host="::1") as s:
                me = s.getsockname()[1]
                self.assertEqual(exchange(s, b"six"), b"six")
            srv.wait_log(r"^Connection received on \[::1\]:%d$" % me)
            self.assertEqual(srv.stop(), 0)

    def test_ipv4_and_ipv6_listeners(self):
        """-l 127.0.0.1:0 -l [::1]:0: both listeners announced and served"""
        try:
            with socket.socket(socket.AF_INET6) as t:
                t.bind(("::1", 0))
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        argv = [SOCKIT, "serve", "echo", "-l", "127.0.0.1:0", "-l", "[::1]:0", "-v"]
        with Server(argv, listeners=2) as srv:
            self.assertRegex(srv.addrs[0], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(srv.addrs[1], r"^\[::1\]:\d+$")
            for a in srv.addrs:
                host, port = sktest.parse_addr(a)
                with connect(port, host=host) as s:
                    self.assertEqual(exchange(s, a.encode()), a.encode())
            self.assertEqual(srv.stop(), 0)

    def test_unix_listener(self):
        """-l unix:/PATH serves over a Unix socket, and sockit connect unix:/PATH reaches it"""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "echo.sock")
            with UnixServer([SOCKIT, "serve", "echo", "-l", "unix:" + path, "-v"]) as srv:
                self.assertEqual(srv.addrs, ["unix:" + path])
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(sktest.DEFAULT_TIMEOUT)
                    s.connect(path)
                    self.assertEqual(exchange(s, b"\x00unix\n"), b"\x00unix\n")
                p = sktest.run([SOCKIT, "connect", "unix:" + path], input=b"via connect\n")
                self.assertEqual((p.returncode, p.stdout, p.stderr),
                                 (0, b"via connect\n", b""))
                self.assertEqual(srv.stop(), 0)

    def test_unix_socket_file_lifecycle(self):
        """a Unix listener logs clients by its path, removes its socket file on exit,
        replaces a stale socket file (nobody listening), and refuses a live listener's
        path ('Address already in use') or a regular file ('not a socket'), leaving both
        alone"""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.sock")
            argv = [SOCKIT, "serve", "echo", "-l", "unix:" + path, "-v"]
            # A stale socket file: bound by a process that is gone, nobody listening.
            stale = socket.socket(socket.AF_UNIX)
            stale.bind(path)
            stale.close()
            self.assertTrue(os.path.exists(path))
            with UnixServer(argv) as srv:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(sktest.DEFAULT_TIMEOUT)
                    s.connect(path)
                    self.assertEqual(exchange(s, b"x"), b"x")
                srv.wait_log(r"^Connection received on unix:" + path.replace(".", r"\.") + "$")
                # A second server on the live path fails and leaves the first alone.
                p = sktest.run(argv)
                self.assertEqual((p.returncode, p.stderr.decode()),
                                 (1, "sockit: bind unix:%s: Address already in use\n" % path))
                p = sktest.run([SOCKIT, "connect", "unix:" + path], input=b"still here\n")
                self.assertEqual(p.stdout, b"still here\n")
                self.assertEqual(srv.stop(), 0)
            self.assertFalse(os.path.exists(path), "socket file left after a clean exit")
            # A regular file is never taken for a stale socket.
            with open(path, "w") as f:
                f.write("precious")
            p = sktest.run(argv)
            self.assertEqual((p.returncode, p.stderr.decode()),
                             (1, "sockit: bind unix:%s: not a socket (a file of another kind "
                                 "is in the way; it is left alone)\n" % path))
            with open(path) as f:
                self.assertEqual(f.read(), "precious")

    def test_backlog_option(self):
        """--backlog 1 is accepted and the server still serves several clients one after
        another; -b 65535 is accepted too"""
        for b in ("1", "65535"):
            with self.subTest(backlog=b), serve("echo", "--backlog", b) as srv:
                for i in range(5):
                    with connect(srv.port) as s:
                        self.assertEqual(exchange(s, b"%d" % i), b"%d" % i)
                self.assertEqual(srv.stop(), 0)

    def test_default_listen_address(self):
        """no -l: the server listens on localhost:5000 (only when 5000 is free here)"""
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 5000))
        except OSError as e:
            self.skipTest("port 5000 on 127.0.0.1 is not free here (%s): cannot check the "
                          "default listen address" % e)
        n = len({ai[4][0] for ai in socket.getaddrinfo("localhost", 5000,
                                                     type=socket.SOCK_STREAM)})
        srv = Server([SOCKIT, "serve", "echo", "-v"], listeners=n)
        try:
            srv.start()  # not `with srv`: that would start a second server
        except AssertionError:
            if any("Address already in use" in ln for ln in srv.log_lines):
                self.skipTest("port 5000 was taken meanwhile: %r" % srv.log_lines)
            raise
        try:
            self.assertIn("127.0.0.1:5000", srv.addrs)
            for a in srv.addrs:
                self.assertRegex(a, r"^(127\.0\.0\.1|\[::1\]):5000$")
            with connect(5000) as s:
                self.assertEqual(exchange(s, b"default"), b"default")
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.kill()

    def test_quiet_without_v(self):
        """without -v the server writes nothing to stderr but the one 'Stopping:' line
        (checked through a known port)"""
        with socket.socket() as probe:  # a free port: bind, note, release
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # No "Listening on" without -v: wait (bounded) for the port to accept instead.
        proc = sktest.subprocess.Popen([SOCKIT, "serve", "echo", "-l", "127.0.0.1:%d" % port],
                                       stdin=sktest.subprocess.DEVNULL,
                                       stdout=sktest.subprocess.PIPE,
                                       stderr=sktest.subprocess.PIPE)
        try:
            def up():
                try:
                    return connect(port, timeout=1)
                except ConnectionRefusedError:
                    return None
            s = sktest.wait_until(up, timeout=sktest.DEFAULT_TIMEOUT)
            self.assertIsNotNone(s, "server without -v never accepted on port %d" % port)
            with s:
                self.assertEqual(exchange(s, b"q"), b"q")
            proc.terminate()
            out, err = proc.communicate(timeout=sktest.DEFAULT_TIMEOUT)
            self.assertEqual((proc.returncode, out), (0, b""))
            self.assertRegex(err.decode(), r"\AStopping: listeners closed; 0 connection\(s\) "
                             r"open, 10 s to finish; a second Ctrl-C \(or SIGTERM\) exits "
                             r"at once\n\Z")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


if __name__ == "__main__":
    sktest.main()
