"""TCP over IPv6 and Unix stream sockets across the tool: serve and connect on [::1],
[::] (v6-only), :PORT (two listeners, one port), localhost (every address it resolves
to); Unix listeners: round trips, stale files replaced, live listeners and other files
left alone, the socket file removed on exit only if still the server's own, abstract
names, over-long paths; nc -U and socat as clients."""
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

import sktest
from sktest import Case, SOCKIT, each_model, random_bytes, run, serve

SOCAT = shutil.which("socat")
NC = shutil.which("nc")


from sktest import have_ipv6_loopback


HAVE_V6 = have_ipv6_loopback()


def unix_client(path, timeout=sktest.DEFAULT_TIMEOUT):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def can_connect(family, host, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
        return True
    except (ConnectionRefusedError, OSError):
        return False
    finally:
        s.close()


def echo_ok(case, sock, payload=b"ping\x00pong\n"):
    case.assertSameBytes(sktest.exchange(sock, payload), payload, "echo")


@unittest.skipUnless(HAVE_V6, "IPv6 loopback ::1 unusable")
class Ipv6(Case):
    def test_serve_and_connect_v6(self):
        """serve echo -l [::1]:0, then connect [::1]:PORT (and a Python AF_INET6 client)"""
        with serve("echo", addr="[::1]:0") as srv:
            self.assertEqual(srv.host, "::1")
            self.assertRegex(srv.log_lines[0], r"^Listening on \[::1\]:\d+$")
            r = run([SOCKIT, "connect", "[::1]:%d" % srv.port], input=b"over v6\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"over v6\n"), r.stderr)
            r = run([SOCKIT, "connect", "::1", str(srv.port)], input=b"host port\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"host port\n"), r.stderr)
            with socket.create_connection(("::1", srv.port), timeout=10) as s:
                echo_ok(self, s, random_bytes(100000, seed=6))
            srv.wait_log(r"Connection received on \[::1\]:\d+")
            self.assertEqual(srv.stop(), 0)

    def test_any_v6_is_v6_only(self):
        """-l [::]:0 is reachable over ::1 but not over 127.0.0.1 (v6-only)"""
        with serve("echo", addr="[::]:0") as srv:
            self.assertEqual(srv.addrs, ["[::]:%d" % srv.port])
            with socket.create_connection(("::1", srv.port), timeout=10) as s:
                echo_ok(self, s)
            self.assertFalse(can_connect(socket.AF_INET, "127.0.0.1", srv.port),
                             "[::] listener reachable over IPv4: not v6-only")
            self.assertEqual(srv.stop(), 0)

    def test_every_interface_two_listeners(self):
        """-l :0 prints two listeners, 0.0.0.0 and [::], sharing one port; both answer"""
        with serve("echo", addr=":0", listeners=2) as srv:
            hosts = sorted(sktest.parse_addr(a)[0] for a in srv.addrs)
            ports = {sktest.parse_addr(a)[1] for a in srv.addrs}
            self.assertEqual(hosts, ["0.0.0.0", "::"])
            self.assertEqual(len(ports), 1, srv.addrs)
            port = ports.pop()
            self.assertNotEqual(port, 0)
            for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                with socket.create_connection((host, port), timeout=10) as s:
                    echo_ok(self, s)
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(any("Listening" in l for l in srv.log_lines[2:]), srv.log_lines)


class Localhost(Case):
    def test_localhost_every_address(self):
        """-l localhost:0 listens on every address localhost resolves to, one port"""
        want = sorted({ai[4][0] for ai in socket.getaddrinfo(
            "localhost", 0, type=socket.SOCK_STREAM)})
        with serve("echo", addr="localhost:0", listeners=len(want)) as srv:
            got = sorted(sktest.parse_addr(a)[0] for a in srv.addrs)
            self.assertEqual(got, want)
            self.assertEqual(len({sktest.parse_addr(a)[1] for a in srv.addrs}), 1, srv.addrs)
            for host in want:
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.create_connection((host, srv.port), timeout=10) as s:
                    echo_ok(self, s)
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(len([l for l in srv.log_lines if "Listening on" in l]), len(want),
                         srv.log_lines)


class UnixStream(Case):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockit-unix-")
        self.path = os.path.join(self.dir, "s.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve_unix(self, *args, path=None, service="echo", **kw):
        return serve(service, *args, addr="unix:" + (path or self.path), **kw)

    def test_round_trip(self):
        """-l unix:/path, then connect unix:/path (and a Python client)"""
        with self.serve_unix() as srv:
            self.assertEqual(srv.addrs, ["unix:" + self.path])
            self.assertTrue(stat.S_ISSOCK(os.stat(self.path).st_mode))
            payload = random_bytes(200000, seed=11)
            r = run([SOCKIT, "connect", "unix:" + self.path], input=payload)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertSameBytes(r.stdout, payload, "connect unix: echo")
            with unix_client(self.path) as s:
                echo_ok(self, s)
            srv.wait_log(r"Connection received on unix:")
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(self.path), "socket file left after SIGTERM")

    def test_framed_over_unix(self):
        """serve echo --frame len32 -l unix:/path with connect --frame len32"""
        with self.serve_unix("--frame", "len32") as srv:
            r = run([SOCKIT, "connect", "--frame", "len32", "unix:" + self.path],
                    input=b"a\nbb\n\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"a\nbb\n\n"), r.stderr)

    def test_stale_file_replaced(self):
        """a stale socket file (bound, then closed, left on disk) is replaced on bind"""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as old:
            old.bind(self.path)
        self.assertTrue(os.path.exists(self.path))
        r = run([SOCKIT, "connect", "unix:" + self.path], input=b"x")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Connection refused", r.stderr)
        with self.serve_unix() as srv:
            with unix_client(self.path) as s:
                echo_ok(self, s)
            # (no inode comparison: a file system may hand the freed inode number out again)
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_live_listener_untouched(self):
        """a live listener at the path: 'Address already in use', exit 1; its file stays
        and it still accepts"""
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live.bind(self.path)
        live.listen(5)
        live.settimeout(10)
        ino = os.stat(self.path).st_ino
        try:
            r = run([SOCKIT, "serve", "echo", "-l", "unix:" + self.path, "-v"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"Address already in use", r.stderr)
            self.assertIn(self.path.encode(), r.stderr)
            self.assertEqual(os.stat(self.path).st_ino, ino, "the live listener's file was replaced")
            with unix_client(self.path) as c:
                conn, _ = live.accept()
                conn.close()
        finally:
            live.close()

    def test_live_sockit_listener_untouched(self):
        """a second sockit on the path of a running one fails; the first keeps working and
        still removes its file at exit"""
        with self.serve_unix() as srv:
            r = run([SOCKIT, "serve", "echo", "-l", "unix:" + self.path, "-v"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"Address already in use", r.stderr)
            with unix_client(self.path) as s:
                echo_ok(self, s)
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_regular_file_refused(self):
        """a regular file at the path: refused (exit 1) as not a socket, file untouched"""
        with open(self.path, "wb") as f:
            f.write(b"precious data\n")
        st = os.stat(self.path)
        r = run([SOCKIT, "serve", "echo", "-l", "unix:" + self.path, "-v"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b": not a socket (a file of another kind is in the way; it is left alone)",
                      r.stderr)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), b"precious data\n")
        self.assertEqual(os.stat(self.path).st_ino, st.st_ino)

    def test_directory_and_symlink_refused(self):
        """a directory, or a symlink to a regular file, at the path: refused, untouched"""
        os.mkdir(self.path)
        r = run([SOCKIT, "serve", "echo", "-l", "unix:" + self.path, "-v"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(os.path.isdir(self.path))
        target = os.path.join(self.dir, "target")
        with open(target, "w") as f:
            f.write("t")
        link = os.path.join(self.dir, "link.sock")
        os.symlink(target, link)
        r = run([SOCKIT, "serve", "echo", "-l", "unix:" + link, "-v"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b": not a socket", r.stderr)
        self.assertTrue(os.path.islink(link))
        with open(target) as f:
            self.assertEqual(f.read(), "t")

    def test_replaced_file_not_removed(self):
        """on SIGTERM the server removes its own file, not one someone put there meanwhile"""
        with self.serve_unix() as srv:
            os.unlink(self.path)
            with open(self.path, "w") as f:
                f.write("someone else's")
            self.assertEqual(srv.stop(), 0)
        self.assertTrue(os.path.exists(self.path), "a replaced file was removed")
        with open(self.path) as f:
            self.assertEqual(f.read(), "someone else's")

        os.unlink(self.path)
        with self.serve_unix() as srv:  # replaced by another live socket this time
            os.unlink(self.path)
            other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            other.bind(self.path)
            other.listen(1)
            try:
                self.assertEqual(srv.stop(), 0)
                self.assertTrue(os.path.exists(self.path), "another server's socket was removed")
            finally:
                other.close()

    def test_abstract(self):
        """unix:@name works and leaves no file (run from an empty directory)"""
        name = "sockit-test-%d-%d" % (os.getpid(), id(self) % 100000)
        with serve("echo", addr="unix:@" + name, cwd=self.dir) as srv:
            self.assertEqual(srv.addrs, ["unix:@" + name])
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect("\0" + name)
                echo_ok(self, s)
            r = run([SOCKIT, "connect", "unix:@" + name], input=b"abstract\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"abstract\n"), r.stderr)
            self.assertEqual(os.listdir(self.dir), [])
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(os.listdir(self.dir), [])

    def test_path_length_limit(self):
        """a 108-byte path: exit 2 with a clear error; a 107-byte path works"""
        def path_of(n):
            base = self.dir + "/"
            return base + "p" * (n - len(base))
        long = path_of(108)
        for argv in ([SOCKIT, "serve", "echo", "-l", "unix:" + long],
                     [SOCKIT, "connect", "unix:" + long]):
            r = run(argv, input=b"")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"longer than", r.stderr)
        self.assertFalse(os.path.exists(long))
        p107 = path_of(107)
        self.assertEqual(len(p107), 107)
        with self.serve_unix(path=p107) as srv:
            r = run([SOCKIT, "connect", "unix:" + p107], input=b"long path\n")
            self.assertEqual((r.returncode, r.stdout), (0, b"long path\n"), r.stderr)
            self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(p107))


@each_model
class UnixModels(Case):
    def each_unix_echo(self, model):
        """a Unix stream echo server under every model: several clients, exact bytes,
        file removed on SIGTERM"""
        d = tempfile.mkdtemp(prefix="sockit-unix-")
        try:
            path = os.path.join(d, "m.sock")
            with serve("echo", model=model, addr="unix:" + path) as srv:
                for i in range(3):
                    with unix_client(path) as s:
                        echo_ok(self, s, random_bytes(30000, seed=i))
                self.assertEqual(srv.stop(), 0, srv.log_lines)
            self.assertFalse(os.path.exists(path))
        finally:
            shutil.rmtree(d, ignore_errors=True)


class UnixInterop(Case):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockit-unix-")
        self.path = os.path.join(self.dir, "i.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    @sktest.needs("nc")
    def test_nc_unix_client(self):
        """nc -U -N is a client of a sockit Unix echo server"""
        with serve("echo", addr="unix:" + self.path) as srv:
            r = run([NC, "-N", "-U", self.path], input=b"hello nc -U\n", timeout=15)
            self.assertEqual((r.returncode, r.stdout), (0, b"hello nc -U\n"), r.stderr)
            self.assertEqual(srv.stop(), 0)

    @sktest.needs("socat")
    def test_socat_unix_client(self):
        """socat - UNIX-CONNECT:/path is a client of a sockit Unix echo server"""
        with serve("echo", addr="unix:" + self.path) as srv:
            r = run([SOCAT, "-t", "5", "-", "UNIX-CONNECT:" + self.path],
                    input=b"hello socat\n", timeout=15)
            self.assertEqual((r.returncode, r.stdout), (0, b"hello socat\n"), r.stderr)
            self.assertEqual(srv.stop(), 0)

    @sktest.needs("socat")
    @unittest.skipUnless(HAVE_V6, "IPv6 loopback ::1 unusable")
    def test_socat_v6_client(self):
        """socat - TCP6:[::1]:PORT is a client of sockit serve echo -l [::1]:0"""
        with serve("echo", addr="[::1]:0") as srv:
            r = run([SOCAT, "-t", "5", "-", "TCP6:[::1]:%d" % srv.port],
                    input=b"hello v6\n", timeout=15)
            self.assertEqual((r.returncode, r.stdout), (0, b"hello v6\n"), r.stderr)


if __name__ == "__main__":
    sktest.main()
