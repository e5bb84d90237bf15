"""sockit connect: the netcat-style client. Both address forms, full duplex, half-close
on stdin EOF (and --no-half-close), -q, -w, refused / reset peers and a closed stdout.
Peers are sockit serve or tiny Python servers written for one behaviour each."""
import contextlib
import os
import select
import socket
import subprocess
import tempfile
import threading
import time

import sktest
from sktest import SOCKIT, Case, random_bytes, recv_until_eof, reset_close, run, serve


@contextlib.contextmanager
def spawn(argv, **popen):
    """A process under test, with pipes for stdin, stdout and stderr unless told otherwise;
    on leaving, killed if still running and its pipes closed."""
    for stream in ("stdin", "stdout", "stderr"):
        popen.setdefault(stream, subprocess.PIPE)
    proc = subprocess.Popen(argv, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if f:
                    f.close()
            except BrokenPipeError:  # stdin whose reader has left
                pass

TIMEOUT = sktest.DEFAULT_TIMEOUT


class PyServer:
    """A one-behaviour Python TCP server on 127.0.0.1:0: handler(conn) runs on a thread
    for each accepted client (conn has a timeout). Errors in handlers are kept in
    .errors; .results collects handler return values."""

    def __init__(self, handler, clients=1):
        self.handler = handler
        self.clients = clients
        self.errors, self.results = [], []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(TIMEOUT)
        self.port = self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            for _ in range(self.clients):
                conn, _ = self.lsock.accept()
                conn.settimeout(TIMEOUT)
                with conn:
                    self.results.append(self.handler(conn))
        except Exception as e:  # reported by the test through .errors
            self.errors.append(e)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(TIMEOUT + 5)
        self.lsock.close()
        return False


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/PID/stat (0 once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sockit_connect(*args, input=b"", timeout=TIMEOUT):
    t0 = time.monotonic()
    p = run([SOCKIT, "connect"] + [str(a) for a in args], input=input, timeout=timeout)
    return p, time.monotonic() - t0


@sktest.each_model
class HelloTests(Case):
    def each_hello_host_port(self, model):
        """printf 'hello\\n' | sockit connect 127.0.0.1 PORT against echo prints hello and
        exits 0 at once"""
        with serve("echo", model=model) as srv:
            p, took = sockit_connect("127.0.0.1", srv.port, input=b"hello\n")
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello\n", b""))
            self.assertLess(took, 3.0, "took %.2fs" % took)
            self.assertEqual(srv.stop(), 0)

    def each_hello_addr(self, model):
        """printf 'hello\\n' | sockit connect 127.0.0.1:PORT (the ADDR form) prints hello"""
        with serve("echo", model=model) as srv:
            p, took = sockit_connect("127.0.0.1:%d" % srv.port, input=b"hello\n")
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello\n", b""))
            self.assertLess(took, 3.0, "took %.2fs" % took)
            self.assertEqual(srv.stop(), 0)


class ConnectTests(Case):
    def test_other_address_forms(self):
        """localhost PORT, PORT alone (localhost:PORT) and -v 'Connected to ADDR'"""
        with serve("echo") as srv:
            for args in (["localhost", srv.port], [str(srv.port)], ["localhost:%d" % srv.port]):
                with self.subTest(args=args):
                    p, _ = sockit_connect(*args, input=b"form\n")
                    self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"form\n", b""))
            p, _ = sockit_connect("-v", "127.0.0.1", srv.port, input=b"v\n")
            self.assertEqual((p.returncode, p.stdout), (0, b"v\n"))
            self.assertEqual(p.stderr, b"Connected to 127.0.0.1:%d\n" % srv.port)

    def test_ipv6(self):
        """sockit connect [::1]:PORT and ::1 PORT reach an IPv6 listener"""
        try:
            with socket.socket(socket.AF_INET6) as t:
                t.bind(("::1", 0))
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        with serve("echo", addr="[::1]:0") as srv:
            for args in (["[::1]:%d" % srv.port], ["::1", srv.port]):
                with self.subTest(args=args):
                    p, _ = sockit_connect(*args, input=b"six\n")
                    self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"six\n", b""))

    def test_binary_round_trip(self):
        """1 MiB of random bytes (NULs, CR, LF, 0xff) through connect and echo, byte-exact"""
        data = random_bytes(1 << 20, seed=42)
        with serve("echo") as srv:
            p, _ = sockit_connect("127.0.0.1", srv.port, input=data, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertSameBytes(p.stdout, data, "binary echo")

    def test_services_through_connect(self):
        """greet and daytime through sockit connect with stdin at EOF"""
        with serve("greet", "--message", "hi there") as srv:
            p, _ = sockit_connect("127.0.0.1", srv.port)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hi there", b""))
        with serve("daytime") as srv:
            p, _ = sockit_connect("127.0.0.1", srv.port)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.endswith(b"\r\n") and p.stdout.count(b"\n") == 1, p.stdout)

    def read_stdout(self, proc, n, timeout=TIMEOUT):
        """Read n bytes of proc's stdout (bounded), while it keeps running."""
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.5)
            if r:
                chunk = os.read(proc.stdout.fileno(), n - len(got))
                if not chunk:
                    break
                got += chunk
        return got

    def test_peer_closes_first_idle_stdin(self):
        """the peer (greet) closes while stdin, an open pipe, sends nothing: sockit prints
        the greeting and waits for stdin (the peer may only have half-closed, and a pause
        in stdin is not its end: issue 12), then exits 0 at stdin's EOF"""
        with serve("greet") as srv:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(srv.port)]) as proc:
                greeting = b"Thank you for connecting"
                self.assertEqual(self.read_stdout(proc, len(greeting)), greeting)
                # No readiness signal exists for "still waiting": a bounded window, longer
                # than the 1 s after which the old pump gave stdin up.
                with self.assertRaises(subprocess.TimeoutExpired):
                    proc.wait(1.5)
                proc.stdin.close()
                rc = proc.wait(TIMEOUT)
                out, err = proc.stdout.read(), proc.stderr.read()
            self.assertEqual((rc, out, err), (0, b"", b""))
            self.assertEqual(srv.stop(), 0)

    def test_idle_timeout_ends_a_quiet_session(self):
        """-i SEC: no byte either way for SEC ends the session with status 1 and says so
        (ncat -i); the clock restarts with every byte"""
        with serve("echo") as srv:
            with spawn([SOCKIT, "connect", "-i", "0.5", "127.0.0.1", str(srv.port)]) as proc:
                for _ in range(3):  # bytes every 0.3 s keep it alive past 0.5 s
                    proc.stdin.write(b"x\n")
                    proc.stdin.flush()
                    self.assertEqual(self.read_stdout(proc, 2), b"x\n")
                    time.sleep(0.3)
                t0 = time.monotonic()
                rc = proc.wait(TIMEOUT)
                took = time.monotonic() - t0
                err = proc.stderr.read()
            self.assertEqual(rc, 1, err)
            self.assertIn(b"--idle-timeout", err)
            self.assertLess(took, 0.5 + 2.0)
            self.assertEqual(srv.stop(), 0)

    def test_peer_closes_first_pipe(self):
        """the peer (greet) closes while stdin, a pipe, is still open: its bytes reach
        stdout at once, and sockit exits 0 once stdin ends too"""
        with serve("greet") as srv:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(srv.port)]) as proc:
                greeting = b"Thank you for connecting"
                self.assertEqual(self.read_stdout(proc, len(greeting)), greeting)
                proc.stdin.close()
                rc = proc.wait(TIMEOUT)
                out, err = proc.stdout.read(), proc.stderr.read()
            self.assertEqual((rc, out, err), (0, b"", b""))
            self.assertEqual(srv.stop(), 0)

    def test_peer_closes_first_terminal(self):
        """the peer (greet) closes while stdin is a terminal: sockit prints the greeting
        and exits 0 without waiting for the terminal"""
        import pty
        master, slave = pty.openpty()
        try:
            with serve("greet") as srv:
                p = subprocess.run([SOCKIT, "connect", "127.0.0.1", str(srv.port)],
                                   stdin=slave, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=TIMEOUT)
                self.assertEqual((p.returncode, p.stdout, p.stderr),
                                 (0, b"Thank you for connecting", b""))
                self.assertEqual(srv.stop(), 0)
        finally:
            os.close(master)
            os.close(slave)

    def test_stdin_keeps_flowing_after_peer_fin(self):
        """the peer sends a banner and shuts its write side down, then reads: stdin
        written after the banner arrived still reaches it in full, then sockit exits 0"""
        upload = random_bytes(200000, seed=9)

        def handler(conn):
            conn.sendall(b"banner\n")
            conn.shutdown(socket.SHUT_WR)
            return recv_until_eof(conn)

        with PyServer(handler) as ps:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(ps.port)]) as proc:
                self.assertEqual(self.read_stdout(proc, 7), b"banner\n")
                proc.stdin.write(upload)
                proc.stdin.close()
                rc = proc.wait(TIMEOUT)
                out, err = proc.stdout.read(), proc.stderr.read()
        self.assertEqual(ps.errors, [])
        self.assertEqual(len(ps.results), 1)
        self.assertSameBytes(ps.results[0], upload, "upload after the peer's FIN")
        self.assertEqual((rc, out, err), (0, b"", b""))

    def test_no_busy_loop_after_peer_left(self):
        """the peer says 'bye' and closes for good; stdin (a pipe) stays open: sockit waits
        for stdin without spinning (under 0.5 s of CPU in 1.5 s); the next line meets the
        peer's reset, which is an error naming the bytes not sent (issue 12: a peer that
        closed before taking all of stdin is never exit 0)"""
        def handler(conn):
            conn.sendall(b"bye\n")  # then closed at once, fully

        with PyServer(handler) as ps:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(ps.port)]) as proc:
                self.assertEqual(self.read_stdout(proc, 4), b"bye\n")
                ps.thread.join(TIMEOUT)  # the server's socket is closed now
                before = cpu_seconds(proc.pid)
                time.sleep(1.5)  # no readiness signal for "idle": a bounded window
                used = cpu_seconds(proc.pid) - before
                self.assertIsNone(proc.poll(), "gave stdin up while it was still open")
                try:
                    for _ in range(3):  # the first is taken by the kernel, reset by the peer
                        proc.stdin.write(b"one more line\n")
                        proc.stdin.flush()
                        time.sleep(0.1)
                    proc.stdin.close()
                except BrokenPipeError:  # it left at the reset
                    pass
                rc = proc.wait(TIMEOUT)
                err = proc.stderr.read()
        self.assertLess(used, 0.5, "sockit used %.2fs of CPU in 1.5s waiting for stdin "
                        "after the peer's close (a busy loop)" % used)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, rb"^sockit: send 127\.0\.0\.1:\d+: peer closed the connection "
                         rb"\(\d+ bytes of stdin not sent")

    def test_half_close_reaches_server(self):
        """on stdin EOF the write side is shut down: a server that replies only after
        reading EOF gets its reply to the client, and sockit exits 0"""
        def handler(conn):
            data = recv_until_eof(conn)  # only a FIN ends this
            conn.sendall(b"got %d bytes: %s" % (len(data), data))

        with PyServer(handler) as ps:
            p, took = sockit_connect("127.0.0.1", ps.port, input=b"request\n")
        self.assertEqual(ps.errors, [])
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (0, b"got 8 bytes: request\n", b""))

    def test_no_half_close(self):
        """--no-half-close: a server that closes without replying when it sees EOF answers
        only the client that does not half-close"""
        def handler(conn):
            req = b""
            while not req.endswith(b"\n"):
                chunk = conn.recv(100)
                if not chunk:
                    return "eof-before-request"
                req += chunk
            # "Work" on the request while watching the client: EOF means it has gone.
            r, _, _ = select.select([conn], [], [], 1.5)
            if r and conn.recv(1, socket.MSG_PEEK) == b"":
                return "eof"
            conn.sendall(b"reply to " + req)
            return "replied"

        with PyServer(handler, clients=2) as ps:
            p1, _ = sockit_connect("127.0.0.1", ps.port, input=b"ping\n")
            p2, _ = sockit_connect("--no-half-close", "127.0.0.1", ps.port, input=b"ping\n")
        self.assertEqual(ps.errors, [])
        self.assertEqual(ps.results, ["eof", "replied"])
        self.assertEqual((p1.returncode, p1.stdout, p1.stderr), (0, b"", b""))
        self.assertEqual((p2.returncode, p2.stdout, p2.stderr), (0, b"reply to ping\n", b""))

    def test_quit_after_eof(self):
        """-q 0.5: exits 0 about 0.5 s after stdin EOF although the peer never closes"""
        done = threading.Event()

        def handler(conn):  # read everything, never close until the test is over
            data = recv_until_eof(conn)
            conn.sendall(b"ack " + data)
            done.wait(TIMEOUT)
            return data

        with PyServer(handler) as ps:
            p, took = sockit_connect("-q", "0.5", "127.0.0.1", ps.port, input=b"bye\n")
            done.set()
        self.assertEqual(ps.errors, [])
        self.assertEqual(ps.results, [b"bye\n"])  # the half-close still happened
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"ack bye\n", b""))
        self.assertGreaterEqual(took, 0.4, "exited %.2fs after start: before -q 0.5" % took)
        self.assertLess(took, 4.0, "took %.2fs with -q 0.5" % took)

    def test_quit_with_no_half_close_against_echo(self):
        """--no-half-close -q 0.5 against serve echo (which never sees EOF): prints the
        echo and exits 0 after the delay"""
        with serve("echo") as srv:
            p, took = sockit_connect("--no-half-close", "-q", "0.5", "127.0.0.1", srv.port,
                                     input=b"hello\n")
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello\n", b""))
            self.assertGreaterEqual(took, 0.4)
            self.assertLess(took, 4.0)
            self.assertEqual(srv.stop(), 0)

    def test_connect_timeout(self):
        """-w 1 against a listener whose accept queue is full (Linux drops the SYN): exit 1
        with 'connect ADDR: Connection timed out' within a few seconds"""
        lsock = socket.socket()
        fill = []
        try:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(0)
            port = lsock.getsockname()[1]
            dropping = False
            for _ in range(64):  # fill the queue with connections nobody accepts
                c = socket.socket()
                c.setblocking(False)
                fill.append(c)
                c.connect_ex(("127.0.0.1", port))
                _, w, _ = select.select([], [c], [], 0.5)
                if not w:  # this SYN was dropped: the queue is full
                    dropping = True
                    break
            if not dropping:
                self.skipTest("the kernel never dropped a SYN to a full accept queue")
            p, took = sockit_connect("-w", "1", "127.0.0.1", port, timeout=20)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(p.stderr,
                             b"sockit: connect 127.0.0.1:%d: Connection timed out\n" % port)
            self.assertEqual(p.stdout, b"")
            self.assertGreaterEqual(took, 0.9, "gave up after %.2fs, before -w 1" % took)
            self.assertLess(took, 5.0, "gave up after %.2fs with -w 1" % took)
        finally:
            for c in fill:
                c.close()
            lsock.close()

    def test_refused(self):
        """connection refused: exit 1, 'sockit: connect 127.0.0.1:PORT: Connection refused'"""
        with socket.socket() as held:  # bound, not listening: the port refuses, stays ours
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            for args in (["127.0.0.1", port], ["127.0.0.1:%d" % port]):
                p, _ = sockit_connect(*args)
                self.assertEqual((p.returncode, p.stdout), (1, b""))
                self.assertEqual(p.stderr,
                                 b"sockit: connect 127.0.0.1:%d: Connection refused\n" % port)

    def test_peer_reset(self):
        """the peer resets the connection: exit 1 with a message naming the reset"""
        def handler(conn):
            got = conn.recv(100)
            reset_close(conn)
            return got

        with PyServer(handler) as ps:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(ps.port)]) as proc:
                proc.stdin.write(b"x\n")
                proc.stdin.flush()  # stdin stays open: only the reset can end sockit
                out, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(ps.results, [b"x\n"])
        self.assertEqual(proc.returncode, 1, err)
        self.assertRegex(err.decode(),
                         r"^sockit: recv 127\.0\.0\.1:%d: Connection reset by peer\n$" % ps.port)

    def test_stdout_closed_early(self):
        """stdout is a pipe whose reader leaves after 1000 bytes of chargen: sockit ends
        without hanging and is not killed by SIGPIPE"""
        with serve("chargen") as srv:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(srv.port)]) as proc:
                head = proc.stdout.read(1000)
                proc.stdout.close()  # stdin stays open: only the closed stdout can end it
                rc = proc.wait(TIMEOUT)
                err = proc.stderr.read()
            self.assertSameBytes(head, sktest.chargen_expected(1000), "chargen via connect")
            self.assertIn(rc, (0, 1), "exit status %d (negative: killed by a signal); "
                          "stderr %r" % (rc, err))
            self.assertNotIn(b"Broken pipe", err)
            self.assertIsNone(srv.proc.poll(), "server died with its client")
            self.assertEqual(srv.stop(), 0)

    def test_full_duplex_interactive(self):
        """stdin is forwarded as it arrives, not at EOF: each line's echo comes back while
        stdin is still open"""
        with serve("echo") as srv:
            with spawn([SOCKIT, "connect", "127.0.0.1", str(srv.port)]) as proc:
                for i in range(5):
                    line = b"line %d\n" % i
                    proc.stdin.write(line)
                    proc.stdin.flush()
                    got = b""
                    deadline = time.monotonic() + TIMEOUT
                    while len(got) < len(line) and time.monotonic() < deadline:
                        r, _, _ = select.select([proc.stdout], [], [], 1.0)
                        if r:
                            chunk = os.read(proc.stdout.fileno(), 100)
                            if not chunk:
                                break
                            got += chunk
                    self.assertEqual(got, line)
                proc.stdin.close()
                self.assertEqual(proc.wait(TIMEOUT), 0)
                self.assertEqual(proc.stdout.read(), b"")

    def test_stdin_regular_file(self):
        """stdin redirected from a regular file (< request.bin) is sent whole, then EOF"""
        data = random_bytes(300000, seed=5)
        with tempfile.TemporaryFile() as f, serve("echo") as srv:
            f.write(data)
            f.seek(0)
            p = subprocess.run([SOCKIT, "connect", "127.0.0.1", str(srv.port)], stdin=f,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
            self.assertEqual((p.returncode, p.stderr), (0, b""))
            self.assertSameBytes(p.stdout, data, "echo of a file")

    def test_discard_7mb(self):
        """7 MB into serve discard: nothing comes back, exit 0 once the server closes"""
        with serve("discard") as srv:
            p, _ = sockit_connect("127.0.0.1", srv.port, input=b"Message" * 1000000, timeout=60)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))


def sh_closed(redirect, *args):
    """argv running sockit connect ARGS with one of its standard fds closed by the shell
    (redirect is '<&-', '>&-' or '2>&-'), as a daemon or a cron job may start it."""
    return ["/bin/sh", "-c", 'exec "$@" %s' % redirect, "sh", SOCKIT, "connect"] + \
        [str(a) for a in args]


class ClosedStdioTests(Case):
    """sockit started with stdin, stdout or stderr closed must not mistake its socket
    (which then gets that lowest free descriptor) for the closed stream."""

    def run_closed(self, argv, timeout=5.0, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        try:
            return subprocess.run(argv, timeout=timeout, **kw)
        except subprocess.TimeoutExpired:
            self.fail("'%s' still running after %.0fs (killed)"
                      % (" ".join(argv[4:]) + " " + argv[2].split()[-1], timeout))

    def test_stdin_closed_is_eof(self):
        """stdin closed (<&-) is an empty stdin: against echo, exit 0 at once with no
        output; against greet, the greeting is printed"""
        with self.subTest(service="greet"), serve("greet") as srv:
            p = self.run_closed(sh_closed("<&-", "127.0.0.1", srv.port))
            self.assertEqual((p.returncode, p.stdout, p.stderr),
                             (0, b"Thank you for connecting", b""))
        with self.subTest(service="echo"), serve("echo") as srv:
            p = self.run_closed(sh_closed("<&-", "127.0.0.1", srv.port))
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))

    def test_stdout_closed_sends_nothing_back(self):
        """stdout closed (>&-), stdin open: what the peer sends is never written back into
        the connection (sockit may fail writing stdout, but not send it to the peer)"""
        def handler(conn):
            conn.sendall(b"hello from the server\n")
            # Reflected bytes would be back within milliseconds: look for 1 s (bounded).
            r, _, _ = select.select([conn], [], [], 1.0)
            return conn.recv(100) if r else b""  # b"" also when sockit has left

        with PyServer(handler) as ps:
            with spawn(sh_closed(">&-", "127.0.0.1", ps.port), stdout=None) as proc:
                ps.thread.join(TIMEOUT)
                proc.stdin.close()
                proc.wait(TIMEOUT)
        self.assertEqual(ps.errors, [])
        self.assertEqual(ps.results, [b""], "the server got its own bytes back")

    def test_stderr_closed_verbose_not_sent_to_peer(self):
        """stderr closed (2>&-) with -v: the peer receives stdin's bytes and nothing else
        (no 'Connected to' line)"""
        def handler(conn):
            return recv_until_eof(conn)

        with PyServer(handler) as ps:
            p = self.run_closed(sh_closed("2>&-", "-v", "127.0.0.1", ps.port), input=b"data\n",
                                stderr=None)
        self.assertEqual(ps.errors, [])
        self.assertEqual(ps.results, [b"data\n"], "what the peer received")
        self.assertEqual((p.returncode, p.stdout), (0, b""))

if __name__ == "__main__":
    sktest.main()
