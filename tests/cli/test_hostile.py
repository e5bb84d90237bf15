"""Hostile peers against sockit serve, for every model, over TCP and over Unix stream
sockets: silent clients, garbage, resets mid-stream, connect-and-close storms and
clients killed with SIGKILL mid-transfer. Each must cost the server that connection and
nothing else: afterwards the server still runs, serves a fresh client correctly and
exits 0 on SIGTERM. (Framed hostiles are in test_framing.py, 10 000 idle clients and
1 GiB of randomized echo in test_torture.py.)"""
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time

import sktest
from sktest import Case, LogPump, SOCKIT, TransportMixin, chargen_expected, each_model
from sktest import exchange, peer_pattern, random_bytes, recv_exact, recv_until_eof
from sktest import reset_close

SERVICES = ("echo", "discard", "chargen", "daytime", "time", "greet")
GARBAGE = (b"\x00" * 100 + random_bytes(4000, seed=7) + b"\xff\xfe\r\n\x00\r\n"
           + b"GET / HTTP/1.0\r\n\r\n" + b"\x00")


@each_model
class HostileTests(TransportMixin, Case):
    """Over TCP (127.0.0.1:0); HostileUnixTests runs every case again over unix:PATH."""

    def assert_serves(self, srv, service):
        """A fresh, well-behaved client gets a correct answer from `service`."""
        with self.connect(srv) as s:
            if service == "echo":
                self.assertEqual(exchange(s, b"still here\n"), b"still here\n")
            elif service == "discard":
                self.assertEqual(exchange(s, b"still here\n"), b"")
            elif service == "chargen":
                self.assertSameBytes(recv_exact(s, 74 * 100), chargen_expected(74 * 100))
            elif service == "daytime":
                got = recv_until_eof(s)
                self.assertTrue(got.endswith(b"\r\n") and got.count(b"\n") == 1, repr(got))
            elif service == "time":
                (t,) = struct.unpack(">I", recv_until_eof(s))
                self.assertLessEqual(abs(t - (int(time.time()) + 2208988800) % (1 << 32)), 2)
            elif service == "greet":
                self.assertEqual(recv_until_eof(s), b"Thank you for connecting")

    def assert_alive_then_stop(self, srv):
        self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines)
        self.assertEqual(sktest.sanitizer_reports(srv.log_lines), [])

    def each_silent_client(self, model):
        """a client that connects and says nothing: thread/fork serve another client
        meanwhile; iterative serves the next client once the silent one leaves"""
        with self.serve("echo", model=model) as srv:
            silent = self.connect(srv)
            try:
                srv.wait_log(r"Connection received")  # the silent one has a session
                with self.connect(srv) as s:
                    s.sendall(b"ping")
                    if model == "iterative":
                        s.settimeout(0.5)  # bounded look for an answer that must not come
                        with self.assertRaises(socket.timeout):
                            s.recv(4)
                        s.settimeout(sktest.DEFAULT_TIMEOUT)
                        silent.close()
                    self.assertEqual(recv_exact(s, 4), b"ping")
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_until_eof(s), b"")
            finally:
                silent.close()
            self.assert_alive_then_stop(srv)

    def each_chargen_non_reader(self, model):
        """a chargen client that never reads (the server blocks in send) does not stop
        thread/fork from serving another chargen client; iterative serves it once the
        non-reader leaves"""
        with self.serve("chargen", model=model) as srv:
            hog = self.connect(srv)
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                srv.wait_log(r"Connection received")
                if model == "iterative":
                    with self.connect(srv) as s:
                        s.settimeout(0.5)  # bounded look for bytes that must not come yet
                        with self.assertRaises(socket.timeout):
                            s.recv(1)
                        hog.close()
                        s.settimeout(sktest.DEFAULT_TIMEOUT)
                        self.assertSameBytes(recv_exact(s, 7400), chargen_expected(7400))
                self.assert_serves(srv, "chargen")
            finally:
                hog.close()
            self.assert_alive_then_stop(srv)

    def each_garbage_to_every_service(self, model):
        """garbage and NUL bytes sent to each service: echo returns them exactly, the others
        ignore them and answer as usual; the server then serves a clean client"""
        for service in SERVICES:
            with self.subTest(service=service), self.serve(service, model=model) as srv:
                with self.connect(srv) as s:
                    if service == "chargen":
                        s.sendall(GARBAGE)
                        got = recv_exact(s, 74 * 200)
                        self.assertSameBytes(got, chargen_expected(len(got)), "chargen")
                    else:
                        got = exchange(s, GARBAGE, shut_wr=service in ("echo", "discard"))
                        if service == "echo":
                            self.assertSameBytes(got, GARBAGE, "echo of garbage")
                        elif service == "discard":
                            self.assertEqual(got, b"")
                        elif service == "daytime":
                            self.assertTrue(got.endswith(b"\r\n") and got.count(b"\n") == 1,
                                            repr(got))
                        elif service == "time":
                            self.assertEqual(len(got), 4, repr(got))
                        elif service == "greet":
                            self.assertEqual(got, b"Thank you for connecting")
                self.assert_serves(srv, service)
                self.assert_alive_then_stop(srv)

    def each_chargen_drains_input(self, model):
        """chargen reads and drops input while it sends: a client flooding it with 1 MiB
        while reading 1 MiB of the stream is never blocked, and the stream stays exact"""
        n = 1 << 20
        with self.serve("chargen", model=model) as srv:
            with self.connect(srv, timeout=30) as s:
                got = exchange(s, random_bytes(n, seed=864), shut_wr=False, limit=n)
            self.assertSameBytes(got, chargen_expected(n), "chargen under an input flood")
            self.assert_alive_then_stop(srv)

    def each_reset_during_echo(self, model):
        """a client that sends 1 MiB without reading (the server blocks sending the echo)
        and then resets (SO_LINGER {1,0}) costs the server only that connection"""
        with self.serve("echo", model=model) as srv:
            s = self.connect(srv)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(0.2)
            sent = 0
            try:  # fill both directions until the server is stuck in send
                while sent < (1 << 20):
                    sent += s.send(b"\x00E" * 8192)
            except socket.timeout:
                pass
            self.assertGreater(sent, 0)
            reset_close(s)
            self.assert_serves(srv, "echo")
            self.assert_alive_then_stop(srv)

    def each_reset_during_chargen(self, model):
        """a chargen client that reads a little and then resets costs the server only
        that connection"""
        with self.serve("chargen", model=model) as srv:
            for _ in range(5):
                s = self.connect(srv)
                self.assertSameBytes(recv_exact(s, 7400), chargen_expected(7400))
                reset_close(s)
            self.assert_serves(srv, "chargen")
            self.assert_alive_then_stop(srv)

    def each_chargen_1000_connect_close(self, model):
        """1000 connect-and-close cycles against chargen: half close normally (at once,
        after shutdown(SHUT_WR), or after reading a little), half reset (SO_LINGER {1,0},
        at once or after reading; over Unix a close with unread data, which the server
        sees as a reset too). Nothing dies of SIGPIPE: the server keeps its pid, every
        session logs its Closed line (a fork child killed by a signal would not), the
        stats count 1000 connections, and a client is served afterwards"""
        n = 1000
        with self.serve("chargen", model=model) as srv:
            born = sktest.proc_stat(srv.proc.pid)
            with LogPump(srv) as pump:
                deadline = time.monotonic() + 120
                for i in range(n):
                    self.assertLess(time.monotonic(), deadline, "cycle %d: too slow" % i)
                    s = self.connect(srv)
                    kind = i % 4  # 0, 1: close; 2, 3: reset; 1, 3: read a little first
                    if kind in (1, 3):
                        self.assertEqual(len(recv_exact(s, 100)), 100)
                    if kind == 0 and i % 8 == 4:
                        s.shutdown(socket.SHUT_WR)
                    if kind >= 2:
                        reset_close(s)
                    else:
                        s.close()
                closed = pump.wait(r"^Closed ", count=n, timeout=60)
                self.assertEqual(len(closed), n, "Closed lines after %d cycles" % n)
                self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines[-5:])
                self.assertEqual(sktest.proc_stat(srv.proc.pid)[2], born[2], "not the same process")
                self.assert_serves(srv, "chargen")
            self.assert_alive_then_stop(srv)
            m = re.search(r"Stats: (\d+) connections \((\d+) active", "\n".join(srv.log_lines))
            self.assertIsNotNone(m, srv.log_lines[-5:])
            self.assertEqual((int(m.group(1)), int(m.group(2))), (n + 1, 0), m.group(0))

    def each_sigkill_mid_transfer(self, model):
        """a `sockit connect` client killed with SIGKILL in the middle of a transfer (echo:
        feeding and reading megabytes; chargen: reading megabytes): the server logs that
        connection closed and goes on; another client, connected throughout (under
        iterative: waiting in the backlog meanwhile), gets exactly its bytes"""
        for service in ("echo", "chargen"):
            with self.subTest(service=service), self.serve(service, model=model) as srv:
                with LogPump(srv) as pump:
                    self.kill_mid_transfer(srv, pump, service, model)
                self.assert_serves(srv, service)
                self.assert_alive_then_stop(srv)

    def each_reset_at_once_every_service(self, model):
        """20 clients per service that connect and reset at once cost the server nothing"""
        for service in SERVICES:
            with self.subTest(service=service), self.serve(service, model=model) as srv:
                for _ in range(20):
                    reset_close(self.connect(srv))
                self.assert_serves(srv, service)
                self.assert_alive_then_stop(srv)

    def kill_mid_transfer(self, srv, pump, service, model):
        mib = 1 << 20
        good = GoodClient(self, service)
        try:
            if model != "iterative":  # connected throughout
                good.connect(srv)
                good.round_trip()
            victim = subprocess.Popen(
                [SOCKIT, "connect", srv.addrs[0]],
                stdin=subprocess.PIPE if service == "echo" else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            fed = []
            feeder = None
            try:
                if service == "echo":
                    def feed():
                        try:
                            for i in range(64):  # at most 64 MiB, far more than is read
                                chunk = random_bytes(mib, seed=i)
                                fed.append(chunk)
                                victim.stdin.write(chunk)
                                victim.stdin.flush()
                        except (BrokenPipeError, ValueError, OSError):
                            pass  # killed: the pipe is gone

                    feeder = threading.Thread(target=feed, daemon=True)
                    feeder.start()
                got = read_pipe(victim.stdout, 2 * mib)
                want = b"".join(fed)[:len(got)] if service == "echo" else chargen_expected(len(got))
                self.assertSameBytes(got, want, "%s to the victim before the kill" % service)
                if model == "iterative":  # waits in the backlog while the victim is served
                    good.connect(srv)
                    if service == "echo":
                        good.s.sendall(b"queued\x00" * 1000)
                before = len(srv.log_lines)
                victim.kill()
                self.assertEqual(victim.wait(sktest.DEFAULT_TIMEOUT), -9)
            finally:
                if victim.poll() is None:
                    victim.kill()
                    victim.wait(sktest.DEFAULT_TIMEOUT)
                for f in (victim.stdin, victim.stdout):
                    if f:
                        try:
                            f.close()
                        except OSError:
                            pass
                if feeder:
                    feeder.join(sktest.DEFAULT_TIMEOUT)
            # the victim's line: the first Closed line after the kill for another client
            line = pump.wait(r"^Closed (?!%s:)(\S+): (\d+) bytes in, (\d+) bytes out"
                             % good.peer_re, start=before)[0]
            inb, outb = int(line.group(2)), int(line.group(3))
            if service == "echo":
                self.assertGreaterEqual(inb, len(got), line.group(0))
            self.assertGreaterEqual(outb, len(got), line.group(0))
            self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines[-5:])
            if model == "iterative" and service == "echo":
                self.assertEqual(recv_exact(good.s, 7000), b"queued\x00" * 1000)
            good.round_trip()
        finally:
            good.close()


class GoodClient:
    """A well-behaved client that stays connected: round_trip() checks one exchange
    (echo: 64 KiB back exactly; chargen: the next 7400 bytes of the stream)."""

    def __init__(self, case, service):
        self.case, self.service = case, service
        self.s, self.peer_re, self.read = None, "(?!)", 0

    def connect(self, srv):
        self.s = self.case.connect(srv)
        self.peer_re = peer_pattern(self.s)

    def round_trip(self):
        if self.service == "echo":
            p = random_bytes(1 << 16, seed=99)
            self.s.sendall(p)
            self.case.assertSameBytes(recv_exact(self.s, len(p)), p, "the other client's echo")
        else:
            got = recv_exact(self.s, 7400)
            want = chargen_expected(self.read + 7400)[self.read:]
            self.case.assertSameBytes(got, want, "the other client's chargen")
            self.read += 7400

    def close(self):
        if self.s:
            self.s.close()


def read_pipe(pipe, n, timeout=sktest.DEFAULT_TIMEOUT):
    """At least n bytes from a child's stdout pipe, within the timeout."""
    fd = pipe.fileno()
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        r, _, _ = select.select([fd], [], [], max(0, left))
        if not r:
            raise AssertionError("%d of %d bytes from the child after %.1fs" % (len(buf), n, timeout))
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise AssertionError("child's stdout closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


@each_model
class ForgedLogTests(Case):
    """Text a client chooses reaches the -v log escaped: a Unix client binds a name that
    holds a newline, a carriage return and terminal escapes."""

    FORGED = b"\0sk\nConnection received on 6.6.6.6:66\r\x1b[2J\x9b1m\xc3\xa9"

    def each_unix_name_cannot_forge_log_lines(self, model):
        """the name comes out as one line, with \\n, \\r and \\x1b spelled out (UTF-8
        kept), in both the 'Connection received' and the 'Closed' line; no line of the log
        is a forged one and no raw control byte reaches it"""
        addr = sktest.listen_addr("unix")
        with sktest.serve("echo", model=model, addr=addr) as srv:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.settimeout(sktest.DEFAULT_TIMEOUT)
                c.bind(self.FORGED)
                c.connect(addr[5:])
                c.sendall(b"x")
                self.assertEqual(recv_exact(c, 1), b"x")
            shown = (r"unix:@sk\\nConnection received on 6\.6\.6\.6:66\\r\\x1b\[2J"
                     r"\\x9b1m\u00e9")
            srv.wait_log(r"^Connection received on %s$" % shown)
            srv.wait_log(r"^Closed %s: 1 bytes in, 1 bytes out" % shown)
            self.assertEqual(srv.stop(), 0)
            forged = [ln for ln in srv.log_lines if ln.startswith("Connection received on 6.")]
            self.assertEqual(forged, [], "a client forged a log line")
            raw = [ln for ln in srv.log_lines if any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0
                                                     for ch in ln)]
            self.assertEqual(raw, [], "control characters in the log")


class HostileUnixTests(HostileTests):
    """Every hostile case again over a Unix stream socket (-l unix:PATH). SO_LINGER
    {1,0} has no effect there; a close with unread data is what the server sees as a
    reset (ECONNRESET)."""

    transport = "unix"


if __name__ == "__main__":
    sktest.main()
