"""sockit listen: nc -l. One client piped both ways with connect's EOF rules (stdin EOF
half-closes, the session ends when the client closes, ~1 s of stdin silence after the
client's EOF ends it), the listener closed right after the first accept, -k for one
client after another (a reset client does not stop it, a gone stdout reader does), the -v
lines, Unix (path and abstract) and IPv6 listeners, SIGTERM/SIGINT (exit 0, the socket
file removed if it is still ours), bad usage, and sockit connect / nc / socat as clients.
Every listener is on port 0 or a temporary Unix path; the port comes from -v."""
import contextlib
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import sktest
from sktest import (SOCKIT, Case, Server, exchange, random_bytes, recv_exact, recv_until_eof,
                    reset_close, run, wait_until)

TIMEOUT = sktest.DEFAULT_TIMEOUT


class Listen(Server):
    """`sockit listen ARGS` with the given stdin and stdout; waits (bounded) for the -v
    'Listening on ADDR' line. .addr is the announced address; .port is None for Unix."""

    def __init__(self, *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd=None,
                 prefix=()):
        super().__init__(list(prefix) + [SOCKIT, "listen"] + [str(a) for a in args])
        self.stdin, self.stdout, self.cwd = stdin, stdout, cwd

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=self.stdin, stdout=self.stdout,
                                     stderr=subprocess.PIPE, cwd=self.cwd)
        line = self.read_log_line(time.monotonic() + self.ready_timeout)
        m = line and re.fullmatch(r"Listening on (\S+)", line)
        if not m:
            self.kill()
            raise AssertionError("%r did not announce 'Listening on ADDR'; log: %r"
                                 % (self.argv, self.log_lines))
        self.addr = m.group(1)
        self.addrs = [self.addr]
        try:
            self.host, self.port = sktest.parse_addr(self.addr)
        except ValueError:  # unix:/path, unix:@name
            self.host, self.port = None, None
        return self

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        try:
            return super().stop(sig, timeout)
        finally:
            self.kill()
            for f in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):
                    if f:
                        f.close()

    def wait_exit(self, timeout=TIMEOUT):
        """Wait for the process to end by itself; returns (status, seconds waited)."""
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("sockit listen still running after %.0fs; log: %r"
                                 % (timeout, self.log_lines))
        took = time.monotonic() - t0
        self.drain_log()
        return rc, took


read_fd = sktest.read_pipe


def unix_client(path, timeout=TIMEOUT):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def refused(port):
    """True if a TCP connection to 127.0.0.1:port is refused now."""
    try:
        sktest.connect(port, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


def file_with(data):
    """A temporary file holding data, positioned at its start (for stdin)."""
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(0)
    return f


def duplex(sock, payload, timeout=30):
    """Send payload (then SHUT_WR) on one thread while reading to EOF on another; both
    bounded. Returns what was read."""
    sock.settimeout(timeout)
    return exchange(sock, payload)


class SessionTests(Case):
    def test_both_directions_1mib_at_once(self):
        """1 MiB random from stdin to the client and 1 MiB random from the client to
        stdout at the same time, both byte-exact; exit 0 once the client closes"""
        down, up = random_bytes(1 << 20, seed=1), random_bytes(1 << 20, seed=2)
        with file_with(down) as fin, tempfile.TemporaryFile() as fout:
            with Listen("-v", "127.0.0.1:0", stdin=fin, stdout=fout) as srv:
                with sktest.connect(srv.port) as c:
                    got = duplex(c, up)
                rc, _ = srv.wait_exit(30)
            fout.seek(0)
            out = fout.read()
        self.assertSameBytes(got, down, "stdin -> client")
        self.assertSameBytes(out, up, "client -> stdout")
        self.assertEqual(rc, 0, srv.log_lines)
        self.assertEqual(len(srv.log_lines), 2, srv.log_lines)  # only the two -v lines

    def test_stdin_eof_half_closes_client_can_still_send(self):
        """stdin 'hello' then EOF: the client reads 'hello' then EOF, the session goes on,
        and what the client sends afterwards reaches stdout; exit 0 when it closes"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:
                srv.proc.stdin.write(b"hello\n")
                srv.proc.stdin.close()
                self.assertEqual(recv_until_eof(c), b"hello\n")
                self.assertIsNone(srv.proc.poll(), "listen exited at stdin EOF")
                c.sendall(b"after your EOF\n")
                self.assertEqual(read_fd(srv.proc.stdout, 15), b"after your EOF\n")
                self.assertIsNone(srv.proc.poll(), "listen exited before the client closed")
                c.sendall(b"more\n")
            rc, took = srv.wait_exit()
            rest = srv.proc.stdout.read()
        self.assertEqual((rc, rest), (0, b"more\n"), srv.log_lines)
        self.assertLess(took, 3.0, "exit took %.2fs after the client closed" % took)

    def test_client_closes_stdin_still_open(self):
        """the client sends 'bye' and closes while stdin, a pipe, stays open and silent:
        'bye' reaches stdout and listen waits for stdin (a pause is not its end: issue
        12); stdin's EOF then ends it, exit 0"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:
                c.sendall(b"bye\n")
            self.assertEqual(read_fd(srv.proc.stdout, 4), b"bye\n")
            # No readiness signal for "still waiting": a window past the old 1 s cut-off.
            with self.assertRaises(subprocess.TimeoutExpired):
                srv.proc.wait(1.5)
            srv.proc.stdin.close()
            rc, took = srv.wait_exit(8)
            rest = srv.proc.stdout.read()
        self.assertEqual((rc, rest), (0, b""), srv.log_lines)

    def test_quit_and_idle_timeout(self):
        """listen has connect's -q (after stdin EOF, end SEC later: exit 0) and -i (no byte
        either way for SEC: exit 1, said on stderr)"""
        with Listen("-v", "-q", "0.3", "127.0.0.1:0", stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:  # never closes: -q ends it
                rc, took = srv.wait_exit(8)
        self.assertEqual(rc, 0, srv.log_lines)
        with Listen("-v", "-i", "0.3", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:
                rc, took = srv.wait_exit(8)
        self.assertEqual(rc, 1, srv.log_lines)
        self.assertTrue(any("--idle-timeout" in l for l in srv.log_lines), srv.log_lines)

    def test_wait_for_a_client(self):
        """-w SEC: no client within SEC is exit 1, said on stderr"""
        with Listen("-v", "-w", "0.3", "127.0.0.1:0") as srv:
            rc, took = srv.wait_exit(8)
        self.assertEqual(rc, 1)
        self.assertTrue(any("no client within" in l for l in srv.log_lines), srv.log_lines)

    def test_stdin_keeps_flowing_after_client_fin(self):
        """the client half-closes first and keeps reading: stdin lines written after that
        (each within the 1 s idle window) still reach it, then stdin EOF ends it, exit 0"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:
                srv.wait_log(r"^Connection received on ")
                c.shutdown(socket.SHUT_WR)
                for i in range(3):
                    line = b"line %d\n" % i
                    srv.proc.stdin.write(line)
                    srv.proc.stdin.flush()
                    self.assertEqual(recv_exact(c, len(line)), line)
                    time.sleep(0.3)  # pacing inside the 1 s window; no signal to wait for
                srv.proc.stdin.close()
                self.assertEqual(recv_until_eof(c), b"")
            rc, _ = srv.wait_exit()
        self.assertEqual(rc, 0, srv.log_lines)

    def test_verbose_lines_exact(self):
        """-v: exactly 'Listening on 127.0.0.1:PORT' (the real port) and 'Connection
        received on 127.0.0.1:CPORT' (the client's own port) on stderr, nothing on stdout
        but the client's data"""
        with Listen("-v", "127.0.0.1:0", stdout=subprocess.PIPE) as srv:
            self.assertNotEqual(srv.port, 0)
            self.assertEqual(srv.log_lines, ["Listening on 127.0.0.1:%d" % srv.port])
            with sktest.connect(srv.port) as c:
                cport = c.getsockname()[1]
                self.assertEqual(duplex(c, b"x"), b"")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"x"))
        self.assertEqual(srv.log_lines, ["Listening on 127.0.0.1:%d" % srv.port,
                                         "Connection received on 127.0.0.1:%d" % cport])

    def test_quiet_without_verbose(self):
        """without -v nothing is written to stderr (checked on a Unix path, whose name is
        known without the 'Listening on' line)"""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "q.sock")
            with subprocess.Popen([SOCKIT, "listen", "unix:" + path], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
                try:
                    self.assertTrue(wait_until(lambda: os.path.exists(path)),
                                    "no socket file at %s" % path)
                    with unix_client(path) as c:
                        self.assertEqual(duplex(c, b"quiet\n"), b"")
                    out, err = proc.communicate(timeout=TIMEOUT)
                finally:
                    if proc.poll() is None:
                        proc.kill()
        self.assertEqual((proc.returncode, out, err), (0, b"quiet\n", b""))

    def test_stdin_closed_is_empty(self):
        """stdin closed (<&-) is an empty stdin, even though the socket could take fd 0:
        the client sees EOF at once and never gets its own bytes back; they go to stdout"""
        closed = ["/bin/sh", "-c", 'exec "$@" <&-', "sh"]
        with Listen("-v", "127.0.0.1:0", stdout=subprocess.PIPE, prefix=closed) as srv:
            with sktest.connect(srv.port) as c:
                self.assertEqual(duplex(c, b"mine\n"), b"")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"mine\n"), srv.log_lines)

    def test_second_client_refused_without_k(self):
        """without -k the listener is closed once the first client is accepted: a second
        client is refused (ECONNREFUSED) while the first is still served"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as first:
                srv.wait_log(r"^Connection received on ")
                # The -v line comes just before the listener is closed: a client in that
                # instant is queued, then reset; once closed, every client is refused.
                self.assertTrue(wait_until(lambda: refused(srv.port), timeout=5),
                                "a second client is still accepted (queued) 5 s after the "
                                "first was accepted without -k")
                srv.proc.stdin.write(b"still yours\n")
                srv.proc.stdin.close()
                self.assertEqual(duplex(first, b"first\n"), b"still yours\n")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"first\n"), srv.log_lines)

    def test_client_reset_without_k(self):
        """without -k, a client that resets (SO_LINGER 0) before its EOF is an error:
        exit 1 with 'recv 127.0.0.1:CPORT: Connection reset by peer'"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            c = sktest.connect(srv.port)
            cport = c.getsockname()[1]
            c.sendall(b"abc")
            self.assertEqual(read_fd(srv.proc.stdout, 3), b"abc")
            reset_close(c)
            rc, _ = srv.wait_exit()
        self.assertEqual(rc, 1, srv.log_lines)
        self.assertEqual(srv.log_lines[-1],
                         "sockit: recv 127.0.0.1:%d: Connection reset by peer" % cport)


class KeepOpenTests(Case):
    def test_k_serves_three_clients_in_order(self):
        """-k with stdin from /dev/null: three clients one after another, each sees EOF
        at once, each one's data lands on stdout in order, each logged with its own port;
        the listener stays up until SIGTERM (exit 0)"""
        with tempfile.TemporaryFile() as fout:
            with Listen("-k", "-v", "127.0.0.1:0", stdout=fout) as srv:
                for i in range(3):
                    with sktest.connect(srv.port) as c:
                        cport = c.getsockname()[1]
                        self.assertEqual(duplex(c, b"client %d\n" % i), b"")
                    srv.wait_log(r"^Connection received on 127\.0\.0\.1:%d$" % cport)
                    self.assertIsNone(srv.proc.poll(), "listen -k exited after client %d" % i)
                # the third session may still be finishing: its data is on stdout first
                self.assertTrue(wait_until(lambda: os.fstat(fout.fileno()).st_size >= 27))
                self.assertEqual(srv.stop(), 0, srv.log_lines)
            fout.seek(0)
            out = fout.read()
        self.assertEqual(out, b"client 0\nclient 1\nclient 2\n")
        received = [ln for ln in srv.log_lines if ln.startswith("Connection received on")]
        self.assertEqual(len(received), 3, srv.log_lines)

    def test_k_stdin_goes_to_the_first_client_only(self):
        """-k with stdin from a file: the first client gets all of it then EOF; stdin is
        spent, so the next client gets EOF at once (as nc -lk)"""
        data = random_bytes(100000, seed=3)
        with file_with(data) as fin, Listen("-k", "-v", "127.0.0.1:0", stdin=fin) as srv:
            with sktest.connect(srv.port) as c:
                self.assertSameBytes(duplex(c, b""), data, "first client")
            with sktest.connect(srv.port) as c:
                self.assertEqual(duplex(c, b""), b"", "second client")
            self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_k_survives_client_reset(self):
        """-k: a client that resets (SO_LINGER 0) mid-session does not stop the listener;
        the next client is served both ways (stdin reaches it, its data reaches stdout)"""
        with Listen("-k", "-v", "127.0.0.1:0", stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE) as srv:
            c = sktest.connect(srv.port)
            c.sendall(b"before reset\n")
            self.assertEqual(read_fd(srv.proc.stdout, 13), b"before reset\n")
            reset_close(c)
            with sktest.connect(srv.port) as c2:
                cport = c2.getsockname()[1]
                srv.wait_log(r"^Connection received on 127\.0\.0\.1:%d$" % cport)
                self.assertIsNone(srv.proc.poll(), "listen -k exited after a reset")
                srv.proc.stdin.write(b"to the second\n")
                srv.proc.stdin.flush()
                self.assertEqual(recv_exact(c2, 14), b"to the second\n")
                c2.sendall(b"from the second\n")
                self.assertEqual(read_fd(srv.proc.stdout, 16), b"from the second\n")
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.stop(), 0, srv.log_lines)

    def test_k_exits_when_stdout_reader_gone(self):
        """-k with stdout a pipe whose reader has gone: the first client's data cannot be
        written, so listen -k exits by itself (not killed by SIGPIPE, no 'Broken pipe'
        noise) and stops listening"""
        with Listen("-k", "-v", "127.0.0.1:0", stdout=subprocess.PIPE) as srv:
            srv.proc.stdout.close()
            with sktest.connect(srv.port) as c:
                c.sendall(b"nobody reads this\n")
                rc, _ = srv.wait_exit()
            with self.assertRaises(ConnectionRefusedError):
                sktest.connect(srv.port, timeout=5).close()
        self.assertIn(rc, (0, 1), "exit status %d (negative: killed by a signal); log %r"
                      % (rc, srv.log_lines))
        self.assertFalse([ln for ln in srv.log_lines if "Broken pipe" in ln], srv.log_lines)


class UnixTests(Case):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "l.sock")

    def tearDown(self):
        self.tmp.cleanup()

    def test_unix_session_and_file_removed(self):
        """unix:/PATH: 'Listening on unix:PATH', the session works both ways, the (unnamed)
        client is logged by the listener's path, and the file is gone once accepted"""
        with file_with(b"to unix client\n") as fin, \
                Listen("-v", "unix:" + self.path, stdin=fin, stdout=subprocess.PIPE) as srv:
            self.assertEqual(srv.addr, "unix:" + self.path)
            self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))
            with unix_client(self.path) as c:
                srv.wait_log(r"^Connection received on ")
                # removed just after the -v line is written: bounded wait, no sleep
                self.assertTrue(wait_until(lambda: not os.path.exists(self.path), timeout=5),
                                "socket file still there 5 s after the accept (no -k)")
                with self.assertRaises(FileNotFoundError):
                    unix_client(self.path).close()
                self.assertEqual(duplex(c, b"\x00from unix\n"), b"to unix client\n")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"\x00from unix\n"), srv.log_lines)
        self.assertEqual(srv.log_lines, ["Listening on unix:" + self.path,
                                         "Connection received on unix:" + self.path])
        self.assertFalse(os.path.exists(self.path))

    def test_unix_signals_remove_file(self):
        """-k unix:/PATH stopped by SIGTERM or SIGINT, idle or mid-session: it exits
        quickly, 0 when idle and 1 mid-session (a transfer cut short is not a success), and
        the socket file is removed"""
        for sig in (signal.SIGTERM, signal.SIGINT):
            for busy in (False, True):
                with self.subTest(sig=sig.name, mid_session=busy):
                    with Listen("-k", "-v", "unix:" + self.path,
                                stdin=subprocess.PIPE) as srv:
                        self.assertTrue(os.path.exists(self.path))
                        c = unix_client(self.path) if busy else None
                        try:
                            if busy:
                                srv.wait_log(r"^Connection received on ")
                            t0 = time.monotonic()
                            rc = srv.stop(sig)
                            took = time.monotonic() - t0
                        finally:
                            if c:
                                c.close()
                    self.assertEqual(rc, 1 if busy else 0, srv.log_lines)
                    self.assertLess(took, 3.0)
                    self.assertFalse(os.path.exists(self.path), "socket file left behind")
                    if busy:
                        self.assertIn("sockit: listen: stopped in the middle of a session",
                                      srv.log_lines)

    def test_sigterm_spares_a_replaced_file(self):
        """the socket file is replaced by someone else's regular file while listen -k
        runs: SIGTERM exits 0 and leaves that file alone"""
        with Listen("-k", "-v", "unix:" + self.path) as srv:
            os.unlink(self.path)
            with open(self.path, "w") as f:
                f.write("not yours\n")
            self.assertEqual(srv.stop(), 0, srv.log_lines)
        with open(self.path) as f:
            self.assertEqual(f.read(), "not yours\n")

    def test_stale_socket_file_replaced(self):
        """a socket file nobody listens on (a dead server's) is replaced: listen starts,
        serves a client, and removes the file"""
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(self.path)
        dead.close()  # the file stays, refusing connections
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))
        with Listen("-v", "unix:" + self.path, stdout=subprocess.PIPE) as srv:
            with unix_client(self.path) as c:
                self.assertEqual(duplex(c, b"fresh\n"), b"")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"fresh\n"), srv.log_lines)
        self.assertFalse(os.path.exists(self.path))

    def test_unix_in_use_and_regular_file(self):
        """a live Unix listener at the path: exit 1 'bind unix:PATH: Address already in
        use', and the other listener's file is untouched; a regular file at the path is
        never removed"""
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            live.bind(self.path)
            live.listen(1)
            p = run([SOCKIT, "listen", "-v", "unix:" + self.path], stdin=subprocess.DEVNULL)
            self.assertEqual((p.returncode, p.stdout, p.stderr.decode()),
                             (1, b"", "sockit: bind unix:%s: Address already in use\n"
                              % self.path))
            self.assertTrue(os.path.exists(self.path))
            with unix_client(self.path):  # still the live listener's
                pass
        finally:
            live.close()
        os.unlink(self.path)
        with open(self.path, "w") as f:
            f.write("data\n")
        p = run([SOCKIT, "listen", "-v", "unix:" + self.path], stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p.stderr)
        with open(self.path) as f:
            self.assertEqual(f.read(), "data\n")

    def test_abstract_name(self):
        """unix:@NAME: an abstract socket (no file anywhere), served both ways"""
        name = "sockit-test-listen-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)
        with file_with(b"abstract hello\n") as fin, \
                Listen("-v", "unix:@" + name, stdin=fin, stdout=subprocess.PIPE,
                       cwd=self.tmp.name) as srv:
            self.assertEqual(srv.addr, "unix:@" + name)
            with unix_client("\0" + name) as c:
                self.assertEqual(duplex(c, b"abstract reply\n"), b"abstract hello\n")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"abstract reply\n"), srv.log_lines)
        self.assertEqual(os.listdir(self.tmp.name), [])


class MiscTests(Case):
    @staticmethod
    def need_ipv6(case):
        if not have_ipv6_loopback():
            case.skipTest("no IPv6 loopback (::1) here")

    def test_ipv6(self):
        """[::1]:0: 'Listening on [::1]:PORT', 'Connection received on [::1]:CPORT', data
        both ways"""
        self.need_ipv6(self)
        with file_with(b"six\n") as fin, \
                Listen("-v", "[::1]:0", stdin=fin, stdout=subprocess.PIPE) as srv:
            self.assertEqual(srv.host, "::1")
            with socket.create_connection(("::1", srv.port), timeout=TIMEOUT) as c:
                cport = c.getsockname()[1]
                self.assertEqual(duplex(c, b"xis\n"), b"six\n")
            rc, _ = srv.wait_exit()
            out = srv.proc.stdout.read()
        self.assertEqual((rc, out), (0, b"xis\n"), srv.log_lines)
        self.assertEqual(srv.log_lines, ["Listening on [::1]:%d" % srv.port,
                                         "Connection received on [::1]:%d" % cport])

    def test_signal_while_waiting(self):
        """SIGTERM or SIGINT while waiting for a client: exit 0 at once, nothing but the
        'Listening on' line on stderr"""
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name), Listen("-v", "127.0.0.1:0") as srv:
                t0 = time.monotonic()
                rc = srv.stop(sig)
                took = time.monotonic() - t0
                self.assertEqual(rc, 0, srv.log_lines)
                self.assertLess(took, 2.0)
                self.assertEqual(srv.log_lines, ["Listening on 127.0.0.1:%d" % srv.port])

    def test_sigterm_mid_session(self):
        """SIGTERM while a TCP client is connected and stdin is open: exit 1, saying the
        session was cut short (nothing lost may exit 0); the client then sees the
        connection end"""
        with Listen("-v", "127.0.0.1:0", stdin=subprocess.PIPE) as srv:
            with sktest.connect(srv.port) as c:
                srv.wait_log(r"^Connection received on ")
                self.assertEqual(srv.stop(), 1, srv.log_lines)
                with contextlib.suppress(ConnectionResetError):
                    self.assertEqual(c.recv(10), b"")

    def test_bad_address(self):
        """an address that does not parse: exit 2 with 'sockit: invalid ...', nothing on
        stdout"""
        for addr in ("127.0.0.1:99999", "::1:5000", "unix:", "127.0.0.1:http-nope-x"):
            with self.subTest(addr=addr):
                p = run([SOCKIT, "listen", "-v", addr], stdin=subprocess.DEVNULL)
                self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
                self.assertTrue(p.stderr.startswith(b"sockit: "), p.stderr)
                self.assertNotIn(b"Listening on", p.stderr)

    def test_address_in_use(self):
        """the port is held by a listening socket: exit 1 with exactly
        'sockit: bind 127.0.0.1:PORT: Address already in use'"""
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = held.getsockname()[1]
            p = run([SOCKIT, "listen", "-v", "127.0.0.1:%d" % port], stdin=subprocess.DEVNULL)
        self.assertEqual((p.returncode, p.stdout, p.stderr.decode()),
                         (1, b"", "sockit: bind 127.0.0.1:%d: Address already in use\n" % port))

    def test_usage_errors(self):
        """missing ADDR, an extra argument, unknown short and long options: exit 2 with a
        message and the usage line on stderr, nothing on stdout; --help: exit 0"""
        for args, msg in (([], "missing ADDR"),
                          (["127.0.0.1:0", "extra"], "unexpected argument 'extra'"),
                          (["-x", "127.0.0.1:0"], "unknown option '-x'"),
                          (["--bogus", "127.0.0.1:0"], "unknown option '--bogus'")):
            with self.subTest(args=args):
                p = run([SOCKIT, "listen"] + args, stdin=subprocess.DEVNULL)
                err = p.stderr.decode()
                self.assertEqual((p.returncode, p.stdout), (2, b""), err)
                self.assertIn(msg, err)
                self.assertIn("Usage: sockit listen", err)
        p = run([SOCKIT, "listen", "--help"], stdin=subprocess.DEVNULL)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertTrue(p.stdout.startswith(b"Usage: sockit listen"), p.stdout[:80])


class ClientInteropTests(Case):
    """Real clients against sockit listen: stdin of each side to the other's stdout."""

    def talk(self, client_argv, down, up, addr="127.0.0.1:0", timeout=30):
        """sockit listen ADDR with stdin `down`; client_argv(srv) with stdin `up`.
        Returns (client result, listen status, listen stdout)."""
        with file_with(down) as fin, tempfile.TemporaryFile() as fout:
            with Listen("-v", addr, stdin=fin, stdout=fout) as srv:
                p = run(client_argv(srv), input=up, timeout=timeout)
                rc, _ = srv.wait_exit()
            fout.seek(0)
            return p, rc, fout.read(), srv.log_lines

    def test_sockit_connect_round_trip(self):
        """sockit connect <-> sockit listen, 512 KiB each way, TCP and Unix"""
        down, up = random_bytes(512 << 10, seed=4), random_bytes(512 << 10, seed=5)
        with tempfile.TemporaryDirectory() as tmp:
            for addr in ("127.0.0.1:0", "unix:" + os.path.join(tmp, "rt.sock")):
                with self.subTest(addr=addr):
                    p, rc, out, log = self.talk(lambda s: [SOCKIT, "connect", s.addr],
                                                down, up, addr=addr)
                    self.assertEqual((p.returncode, p.stderr), (0, b""))
                    self.assertSameBytes(p.stdout, down, "listen -> connect")
                    self.assertSameBytes(out, up, "connect -> listen")
                    self.assertEqual(rc, 0, log)

    @sktest.needs("nc")
    def test_nc_client(self):
        """OpenBSD nc -N as the client: data both ways, both exit 0"""
        nc = shutil.which("nc")
        down, up = random_bytes(256 << 10, seed=6), random_bytes(256 << 10, seed=7)
        p, rc, out, log = self.talk(lambda s: [nc, "-N", "-w", "10", "127.0.0.1", str(s.port)],
                                    down, up)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertSameBytes(p.stdout, down, "listen -> nc")
        self.assertSameBytes(out, up, "nc -> listen")
        self.assertEqual(rc, 0, log)

    @sktest.needs("socat")
    def test_socat_client(self):
        """socat - TCP:127.0.0.1:PORT as the client: data both ways, both exit 0"""
        socat = shutil.which("socat")
        down, up = b"from sockit listen\n", b"from socat\n"
        p, rc, out, log = self.talk(
            lambda s: [socat, "-t", "5", "-", "TCP:127.0.0.1:%d" % s.port], down, up)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, down, b""))
        self.assertEqual((rc, out), (0, up), log)


if __name__ == "__main__":
    sktest.main()
