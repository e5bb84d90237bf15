"""nc (OpenBSD netcat, Debian package netcat-openbsd) as a real peer: nc as the client of
`sockit serve echo` and `sockit serve greet` under each model, and `nc -l` as the server
for `sockit connect`. Each nc case is marked @sktest.needs("nc"): without OpenBSD's nc,
ctest names each one as Skipped; the one case that needs no nc still runs."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

from sktest import MODELS, connect, recv_exact, recv_until_eof, run
from seedlib import GREETING, Proc, have_ipv6_loopback, serve, sockit
import seedlib
import sktest

NC = shutil.which("nc")


def nc(*args, input=None, timeout=20):
    """Run nc with a 10 s idle/connect limit (-w) inside a hard deadline."""
    return run([NC, "-w", "10"] + [str(a) for a in args], input=input, timeout=timeout)


@sktest.needs("nc")
class NcClient(unittest.TestCase):
    def test_echo_hello_each_model(self):
        for model in MODELS:
            with self.subTest(model=model), serve("echo", model) as srv:
                r = nc("-N", "127.0.0.1", srv.port, input=b"hello\n")
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_echo_binary_each_model(self):
        payload = os.urandom(512 * 1024)
        for model in MODELS:
            with self.subTest(model=model), serve("echo", model) as srv:
                r = nc("-N", "127.0.0.1", srv.port, input=payload, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(len(r.stdout), len(payload))
                self.assertTrue(r.stdout == payload, "echo differs")
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_echo_while_another_client_is_connected(self):
        # thread and fork serve clients at once: an idle connection does not hold nc up
        for model in ("thread", "fork"):
            with self.subTest(model=model), serve("echo", model) as srv:
                with connect(srv.port) as idle:
                    srv.wait_log(r"^Connection received on ")
                    r = nc("-N", "127.0.0.1", srv.port, input=b"not blocked\n")
                    self.assertEqual((r.returncode, r.stdout), (0, b"not blocked\n"), r.stderr)
                    idle.sendall(b"still here")
                    self.assertEqual(recv_exact(idle, 10), b"still here")
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_greet_each_model(self):
        for model in MODELS:
            with self.subTest(model=model), serve("greet", model) as srv:
                for _ in range(2):
                    r = nc("-N", "127.0.0.1", srv.port)
                    self.assertEqual((r.returncode, r.stdout, r.stderr), (0, GREETING, b""))
                self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_greet_custom_message(self):
        with serve("greet", "fork", "--message", "hi there\n") as srv:
            r = nc("-N", "127.0.0.1", srv.port)
            self.assertEqual((r.returncode, r.stdout), (0, b"hi there\n"), r.stderr)

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback (::1)")
    def test_echo_over_ipv6(self):
        with serve("echo", addr="[::1]:0") as srv:
            self.assertEqual(srv.host, "::1")
            r = nc("-N", "::1", srv.port, input=b"over six\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"over six\n"), r.stderr)


@sktest.needs("nc")
class NcServer(unittest.TestCase):
    """`nc -l` sends a file and records what it receives; `sockit connect` is the client.

    nc -l quits once the client's EOF has come and its own stdin buffer is momentarily
    empty, even before its stdin is done ("listen and net in gone, queues empty, done" in
    netcat.c); so when nc -l has much to send, sockit connect must not half-close first
    (--no-half-close), and large transfers go one way at a time."""

    def exchange(self, to_client, to_server, host="127.0.0.1", nc_flags=("-N",),
                 connect_flags=()):
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
            with open(src, "wb") as f:
                f.write(to_client)
            with open(src, "rb") as fin, open(dst, "wb") as fout, \
                    Proc([NC, "-n", "-v", "-w", "10"] + list(nc_flags) + ["-l", host, "0"],
                         r"^Listening on \S+ (?P<port>\d+)$", stdin=fin, stdout=fout) as ncl:
                r = run([sockit(), "connect"] + list(connect_flags) + [host, str(ncl.port)],
                        input=to_server, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(ncl.wait_exit(), 0, ncl.err.lines)
            with open(dst, "rb") as f:
                got = f.read()
        return r.stdout, got

    def test_sockit_connect_both_ways(self):
        to_client, to_server = self.exchange(b"from the nc server\n", b"from sockit connect\n")
        self.assertEqual(to_client, b"from the nc server\n")
        self.assertEqual(to_server, b"from sockit connect\n")

    def test_download_1mib(self):
        down = os.urandom(1 << 20)
        to_client, to_server = self.exchange(down, b"", connect_flags=("--no-half-close",))
        self.assertEqual((len(to_client), to_server), (len(down), b""))
        self.assertTrue(to_client == down, "nc -l -> sockit connect differs")

    def test_upload_1mib(self):
        # nc -d: nc reads no stdin and never half-closes; it quits at sockit's EOF
        up = os.urandom(1 << 20)
        to_client, to_server = self.exchange(b"", up, nc_flags=("-d",))
        self.assertEqual((to_client, len(to_server)), (b"", len(up)))
        self.assertTrue(to_server == up, "sockit connect -> nc -l differs")

    def test_upload_1mib_after_the_servers_eof(self):
        # nc -l -N with empty stdin half-closes at once, then reads to the end: all of
        # sockit connect's stdin must still reach it (see PeerHalfClose)
        up = os.urandom(1 << 20)
        to_client, to_server = self.exchange(b"", up)
        self.assertEqual(to_client, b"")
        self.assertEqual(len(to_server), len(up),
                         "sockit connect delivered %d of %d bytes after nc's FIN"
                         % (len(to_server), len(up)))
        self.assertTrue(to_server == up, "sockit connect -> nc -l differs")

    def test_sockit_connect_nothing_to_send(self):
        to_client, to_server = self.exchange(GREETING, b"")
        self.assertEqual((to_client, to_server), (GREETING, b""))

    @unittest.skipUnless(have_ipv6_loopback(), "no IPv6 loopback (::1)")
    def test_sockit_connect_ipv6(self):
        to_client, to_server = self.exchange(b"six\n", b"xis\n", host="::1")
        self.assertEqual((to_client, to_server), (b"six\n", b"xis\n"))


class HalfClosingServer:
    """A loopback server for one client: sends `hello`, shuts down its write side at
    once (FIN: "I have nothing more to say") and reads everything the client sends until
    the client's EOF. .received is what it got (None if the client never closed)."""

    def __init__(self, hello=b"bye\n"):
        self.hello = hello
        self.received = None
        self.error = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            c, _ = self.sock.accept()
            with c:
                c.settimeout(20)
                c.sendall(self.hello)
                c.shutdown(socket.SHUT_WR)
                self.received = recv_until_eof(c)
        except OSError as e:
            self.error = e

    def join(self, timeout=25):
        self.thread.join(timeout)
        self.sock.close()
        if self.thread.is_alive():
            raise AssertionError("the half-closing server is still running after %ds" % timeout)
        return self.received


class PeerHalfClose(unittest.TestCase):
    """A peer that half-closes first (shutdown(SHUT_WR), then reads to EOF) must still get
    all of the client's stdin: a FIN ends one direction only. nc -N does this; sockit
    connect, which says it behaves as nc -N, must too."""

    PAYLOAD = os.urandom(4 << 20)  # more than the socket buffers hold before the FIN lands

    def check(self, argv):
        srv = HalfClosingServer()
        r = run(argv + ["127.0.0.1", str(srv.port)], input=self.PAYLOAD, timeout=30)
        received = srv.join()
        self.assertIsNone(srv.error)
        self.assertEqual((r.returncode, r.stdout), (0, b"bye\n"), r.stderr)
        self.assertEqual(len(received), len(self.PAYLOAD),
                         "%s delivered %d of %d bytes after the peer's FIN"
                         % (argv[0], len(received), len(self.PAYLOAD)))
        self.assertTrue(received == self.PAYLOAD, "data differs")

    @sktest.needs("nc")
    def test_nc_reference(self):
        self.check([NC, "-N", "-w", "10"])

    def test_sockit_connect_keeps_sending_after_peer_half_close(self):
        self.check([sockit(), "connect"])


if __name__ == "__main__":
    seedlib.main()
