"""sockit serve: the graceful drain on SIGTERM/SIGINT, for every model. Listeners close at
once (a new connect is refused within 100 ms) and -v says how many connections are open
and how long they have; idle framed connections (between frames) are closed at once;
active ones (mid-frame, or a raw stream) may finish within --drain-timeout (default 10 s):
an 8 MiB echo in progress completes byte-exact and the server then exits 0 at once; a
second signal during the drain exits at once with status 1; a connection still active
when the drain period ends is closed and the server exits 0.

Iterative serves one client at a time, so its tests with two clients at once run the two
halves on two servers instead."""
import re
import signal
import socket
import subprocess
import threading
import time

import sktest
from sktest import sees_end
from sktest import Case, connect, each_model, random_bytes, recv_exact, recv_until_eof, serve

STATS_RE = r"^Stats: (\d+) connections \((\d+) active, (\d+) refused, (\d+) errors\)"
# How soon after the signal a new connect must be refused.
REFUSE_WITHIN = 0.1
# How soon after its last client is gone a draining server must have exited.
EXIT_WITHIN = 3.0




def first_refusal(port, t0, limit=2.0):
    """Connect to port in a loop until refused; return seconds from t0 to the first
    refusal (or None after `limit` s). Connections that still get in are closed."""
    while time.monotonic() - t0 < limit:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        except ConnectionRefusedError:
            return time.monotonic() - t0
        except OSError:
            continue
        s.close()
    return None


def wait_exit(srv, timeout):
    """Wait (bounded) for the server to exit; returns its status, or fails."""
    try:
        rc = srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        srv.kill()
        raise AssertionError("server still running %.1fs later; log: %r"
                             % (timeout, srv.log_lines[-8:]))
    srv.drain_log()
    return rc


def check_accounting(tc, srv):
    """After exit: every client logged as received is logged as closed, and the exit
    totals have no connection left active."""
    received = [ln for ln in srv.log_lines if ln.startswith("Connection received")]
    closed = [ln for ln in srv.log_lines if ln.startswith("Closed ")]
    stats = [m for m in (re.search(STATS_RE, ln) for ln in srv.log_lines) if m]
    tc.assertTrue(stats, "no Stats line at exit; log: %r" % srv.log_lines)
    conns, active = int(stats[-1].group(1)), int(stats[-1].group(2))
    tc.assertEqual((conns, active), (len(received), 0),
                   "(connections, active) in the exit totals; log: %r" % srv.log_lines)
    tc.assertEqual(len(closed), len(received),
                   "clients received but never logged as closed; log: %r" % srv.log_lines)


@each_model
class DrainTests(Case):
    def each_listeners_close_at_once(self, model):
        """SIGTERM with an active raw client: a new connect is refused within 100 ms, -v
        logs 'Stopping: listeners closed; N connection(s) open, 10 s to finish', the
        active client is still echoed during the drain, and when it leaves the server
        exits 0 at once"""
        with serve("echo", model=model) as srv:
            with connect(srv.port) as a:
                pa = a.getsockname()[1]
                a.sendall(b"before")
                self.assertEqual(recv_exact(a, 6), b"before")
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                took = first_refusal(srv.port, t0)
                self.assertIsNotNone(took, "connects still accepted 2 s after SIGTERM")
                self.assertLess(took, REFUSE_WITHIN, "first refusal %.3fs after SIGTERM" % took)
                # Connects of the loop above that got in before the close count too.
                srv.wait_log(r"^Stopping: listeners closed; \d+ connection\(s\) open, "
                             r"10 s to finish; a second Ctrl-C "
                             r"\(or SIGTERM\) exits at once$")
                a.sendall(b"during the drain")
                self.assertEqual(recv_exact(a, 16), b"during the drain")
                self.assertIsNone(srv.proc.poll(), "exited with an active client")
                a.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(a), b"")
                t1 = time.monotonic()
            self.assertEqual(wait_exit(srv, EXIT_WITHIN), 0)
            self.assertLess(time.monotonic() - t1, EXIT_WITHIN)
            self.assertTrue(any(re.search(r"^Closed 127\.0\.0\.1:%d: 22 bytes in, 22 bytes "
                                          r"out, [0-9.]+ s$" % pa, ln)
                                for ln in srv.log_lines), srv.log_lines)
            check_accounting(self, srv)

    def idle_framed(self, srv, idle):
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        srv.wait_log(r"^Stopping: listeners closed; \d+ connection\(s\) open")
        self.assertTrue(sees_end(idle, 2.0), "the idle framed client was not closed")
        took = time.monotonic() - t0
        self.assertLess(took, 1.0, "idle framed client closed %.2fs after SIGTERM" % took)

    def mid_frame(self, srv, busy):
        time.sleep(0.3)  # a bounded look: the mid-frame client must NOT be cut off
        self.assertIsNone(srv.proc.poll(), "exited with a frame in progress")
        busy.sendall(b"def\n")
        self.assertEqual(recv_exact(busy, 7), b"abcdef\n")
        # Its frame answered, it is idle: closed too, and the server is done.
        self.assertTrue(sees_end(busy, 2.0), "the framed client was not closed after its frame")

    def each_idle_framed_closed_active_finishes(self, model):
        """--frame line: on SIGTERM a client between frames is closed at once (< 1 s), a
        client in the middle of a frame may finish it ('abc' + 'def\\n' echoes 'abcdef\\n')
        and is closed after; the server then exits 0 at once, long before the 10 s drain
        period"""
        args = ("--frame", "line")
        if model == "iterative":  # one client at a time: each half on its own server
            with serve("echo", *args, model=model) as srv, connect(srv.port) as idle:
                idle.sendall(b"a\n")
                self.assertEqual(recv_exact(idle, 2), b"a\n")
                self.idle_framed(srv, idle)
                self.assertEqual(wait_exit(srv, EXIT_WITHIN), 0)
            with serve("echo", *args, model=model) as srv, connect(srv.port) as busy:
                busy.sendall(b"a\nabc")
                self.assertEqual(recv_exact(busy, 2), b"a\n")
                srv.signal(signal.SIGTERM)
                srv.wait_log(r"^Stopping: listeners closed; 1 connection\(s\) open")
                self.mid_frame(srv, busy)
                t1 = time.monotonic()
                self.assertEqual(wait_exit(srv, EXIT_WITHIN), 0)
                self.assertLess(time.monotonic() - t1, EXIT_WITHIN)
            return
        with serve("echo", *args, model=model) as srv:
            with connect(srv.port) as idle, connect(srv.port) as busy:
                idle.sendall(b"a\n")
                self.assertEqual(recv_exact(idle, 2), b"a\n")
                busy.sendall(b"b\nabc")
                self.assertEqual(recv_exact(busy, 2), b"b\n")
                self.idle_framed(srv, idle)
                srv.wait_log(r"^Stopping: listeners closed; 2 connection\(s\) open, "
                             r"10 s to finish; a second Ctrl-C "
                             r"\(or SIGTERM\) exits at once$")
                self.mid_frame(srv, busy)
                t1 = time.monotonic()
            self.assertEqual(wait_exit(srv, EXIT_WITHIN), 0)
            self.assertLess(time.monotonic() - t1, EXIT_WITHIN)
            check_accounting(self, srv)

    def transfer(self, model, sig):
        n = 8 << 20
        half = n // 2
        payload = random_bytes(n, seed=88)
        with serve("echo", model=model) as srv:
            s = connect(srv.port, timeout=30)
            port = s.getsockname()[1]
            go, got_some, errors = threading.Event(), threading.Event(), []
            received = bytearray()

            def sender():
                try:
                    s.sendall(payload[:half])
                    if not go.wait(15):
                        errors.append("no go")
                        return
                    s.sendall(payload[half:])
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    errors.append(e)

            def reader():
                try:
                    while True:
                        data = s.recv(1 << 16)
                        if not data:
                            break
                        received.extend(data)
                        if len(received) >= (1 << 20):
                            got_some.set()
                except OSError as e:
                    errors.append(e)
                got_some.set()

            ts = [threading.Thread(target=sender, daemon=True),
                  threading.Thread(target=reader, daemon=True)]
            for t in ts:
                t.start()
            try:
                self.assertTrue(got_some.wait(15), "no echo before the signal")
                self.assertLess(len(received), n, "the transfer was over before the signal")
                srv.signal(sig)
                srv.wait_log(r"^Stopping: listeners closed; 1 connection\(s\) open, "
                             r"10 s to finish; a second Ctrl-C "
                             r"\(or SIGTERM\) exits at once$")
            finally:
                go.set()
                for t in ts:
                    t.join(30)
            s.close()
            t1 = time.monotonic()
            self.assertEqual(errors, [])
            self.assertSameBytes(bytes(received), payload, "8 MiB echo across the %s"
                                 % sig.name)
            self.assertEqual(wait_exit(srv, EXIT_WITHIN), 0)
            self.assertLess(time.monotonic() - t1, EXIT_WITHIN)
            self.assertTrue(any(re.search(r"^Closed 127\.0\.0\.1:%d: %d bytes in, %d bytes "
                                          r"out, [0-9.]+ s$" % (port, n, n), ln)
                                for ln in srv.log_lines), srv.log_lines)
            check_accounting(self, srv)

    def each_active_transfer_completes_sigterm(self, model):
        """SIGTERM in the middle of an 8 MiB raw echo (the client has sent 4 MiB and sends
        the rest after the 'Stopping' line): every byte comes back, the server logs the
        exact counts and exits 0 once the client is done"""
        self.transfer(model, signal.SIGTERM)

    def each_active_transfer_completes_sigint(self, model):
        """the same with SIGINT"""
        self.transfer(model, signal.SIGINT)

    def each_second_signal_exits_1(self, model):
        """SIGTERM, then SIGINT during the drain (after 'Stopping', 0.6 s later): exit
        status 1 at once (< 1 s), and the active client's connection ends"""
        with serve("echo", model=model) as srv:
            with connect(srv.port) as a:
                a.sendall(b"x")
                self.assertEqual(recv_exact(a, 1), b"x")
                srv.signal(signal.SIGTERM)
                first = time.monotonic()
                srv.wait_log(r"^Stopping: ")
                # Within 0.5 s it would be the same stop (GNU timeout's second SIGTERM).
                time.sleep(max(0, first + 0.6 - time.monotonic()))
                t0 = time.monotonic()
                srv.signal(signal.SIGINT)
                rc = srv.proc.wait(5)
                took = time.monotonic() - t0
                self.assertEqual(rc, 1, "exit status %d (negative: killed by a signal)" % rc)
                self.assertLess(took, 3.0)  # "at once" next to the 10 s drain (sanitizers are slow)
                self.assertTrue(sees_end(a, 5), "the client's session outlived the server")

    def each_drain_deadline(self, model):
        """--drain-timeout 1: a raw client that stays connected (active) is closed about
        1 s after SIGTERM, logged as closed with the reason and its real byte counts (under
        fork the session process logs it itself), and the server exits 0 with no
        connection left active in its totals"""
        with serve("echo", "--drain-timeout", "1", model=model) as srv:
            with connect(srv.port) as a:
                a.sendall(b"hold")
                self.assertEqual(recv_exact(a, 4), b"hold")
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                srv.wait_log(r"^Stopping: listeners closed; 1 connection\(s\) open, "
                             r"1 s to finish; a second Ctrl-C "
                             r"\(or SIGTERM\) exits at once$")
                self.assertTrue(sees_end(a, 5), "not closed at the end of the drain")
                took = time.monotonic() - t0
                self.assertGreater(took, 0.8, "closed %.2fs after SIGTERM" % took)
                self.assertLess(took, 3.0, "closed %.2fs after SIGTERM" % took)
            self.assertEqual(wait_exit(srv, 3), 0)
            self.assertLess(time.monotonic() - t0, 4.0)
            check_accounting(self, srv)
            closed = [l for l in srv.log_lines if l.startswith("Closed ")]
            self.assertEqual(len(closed), 1, srv.log_lines)
            self.assertRegex(closed[0], r": 4 bytes in, 4 bytes out, .*: still active when "
                             r"the drain period ended \(--drain-timeout\)$")

    def each_drain_timeout_zero_idle(self, model):
        """SIGTERM with no client at all: 'Stopping: listeners closed; 0 connection(s)
        open' and exit 0 at once, whatever the drain period"""
        with serve("echo", "--drain-timeout", "30", model=model) as srv:
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            self.assertEqual(wait_exit(srv, 2), 0)
            self.assertLess(time.monotonic() - t0, 2)
            self.assertIn("Stopping: listeners closed; 0 connection(s) open, 30 s to finish; "
                          "a second Ctrl-C (or SIGTERM) exits at once", srv.log_lines)


if __name__ == "__main__":
    sktest.main()
