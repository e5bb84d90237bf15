"""sockit serve SERVICE: every service against its RFC, byte-exact where the RFC defines
the bytes, under every server model (iterative, thread, fork)."""
import struct
import time

import sktest
from sktest import Case, chargen_expected, connect, each_model, exchange, random_bytes
from sktest import recv_exact, recv_until_eof, serve

EPOCH_1900 = 2208988800
GREET_DEFAULT = b"Thank you for connecting"


@each_model
class ServiceTests(Case):
    def stopped_cleanly(self, srv):
        self.assertIsNone(srv.proc.poll(), "server exited early; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines)

    def each_echo_exact(self, model):
        """echo (RFC 862): 64 KiB of random bytes (NULs included) come back byte-exact,
        then EOF after the client's EOF"""
        payload = random_bytes(65536, seed=862)
        with serve("echo", model=model) as srv:
            with connect(srv.port) as s:
                self.assertSameBytes(exchange(s, payload), payload, "echo reply")
            self.stopped_cleanly(srv)

    def each_echo_interactive(self, model):
        """echo answers each write at once, without waiting for more input or EOF"""
        with serve("echo", model=model) as srv:
            with connect(srv.port) as s:
                for msg in (b"a", b"hello\n", b"\x00\x01\x02", b"x" * 1000):
                    s.sendall(msg)
                    self.assertEqual(recv_exact(s, len(msg)), msg)
                s.shutdown(sktest.socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s), b"", "bytes after the echo of the last write")
            self.stopped_cleanly(srv)

    def each_discard(self, model):
        """discard (RFC 863): reads 256 KiB, answers nothing, closes after the client's EOF"""
        with serve("discard", model=model) as srv:
            with connect(srv.port) as s:
                got = exchange(s, random_bytes(256 * 1024, seed=863))
                self.assertEqual(got, b"", "discard must send nothing")
            self.stopped_cleanly(srv)

    def each_chargen(self, model):
        """chargen (RFC 864): 72-char lines of the 95-char ring, line N starting at N mod 95,
        CR LF; checked byte-exact over more than two full turns of the ring"""
        n = 95 * 74 * 2 + 1000
        with serve("chargen", model=model) as srv:
            with connect(srv.port) as s:
                got = recv_exact(s, n)
            self.assertSameBytes(got, chargen_expected(n), "chargen stream")
            lines = got[:95 * 74].split(b"\r\n")
            self.assertEqual(len(lines), 96)  # 95 lines and the empty rest
            self.assertTrue(all(len(x) == 72 for x in lines[:95]))
            self.stopped_cleanly(srv)

    def each_chargen_second_client_starts_at_line_0(self, model):
        """every chargen session starts its own stream at line 0"""
        with serve("chargen", model=model) as srv:
            for _ in range(2):
                with connect(srv.port) as s:
                    self.assertSameBytes(recv_exact(s, 74 * 3), chargen_expected(74 * 3))
            self.stopped_cleanly(srv)

    def each_chargen_streams_after_client_eof(self, model):
        """chargen goes on after the client shuts down its write side (RFC 864: data stops
        when the connection closes; a FIN closes one direction): more than three batches
        arrive byte-exact after the FIN"""
        n = 4736 * 3 + 5000
        with serve("chargen", model=model) as srv:
            with connect(srv.port) as s:
                s.shutdown(sktest.socket.SHUT_WR)
                got = recv_exact(s, n)
            self.assertSameBytes(got, chargen_expected(n), "chargen stream after FIN")
            self.stopped_cleanly(srv)

    def each_daytime(self, model):
        """daytime (RFC 867): one printable line with the year, ending CR LF, then close"""
        with serve("daytime", model=model) as srv:
            with connect(srv.port) as s:
                before = time.localtime(time.time() - 5).tm_year
                got = recv_until_eof(s)
                after = time.localtime(time.time() + 5).tm_year
            self.assertTrue(got.endswith(b"\r\n"), "no CR LF at the end: %r" % got)
            self.assertEqual(got.count(b"\n"), 1, "more than one line: %r" % got)
            self.assertEqual(got.count(b"\r"), 1, "stray CR: %r" % got)
            line = got[:-2]
            self.assertTrue(line and all(32 <= b < 127 for b in line), "not printable: %r" % got)
            self.assertTrue(str(before).encode() in line or str(after).encode() in line,
                            "no year %d in %r" % (before, got))
            self.stopped_cleanly(srv)

    def each_time(self, model):
        """time (RFC 868): 4 bytes, big-endian seconds since 1900 within 2 s of now, then close"""
        with serve("time", model=model) as srv:
            with connect(srv.port) as s:
                got = recv_until_eof(s)
                now = time.time()
            self.assertEqual(len(got), 4, "time reply: %r" % got)
            (t,) = struct.unpack(">I", got)
            want = int(now + EPOCH_1900) % (1 << 32)
            self.assertLessEqual(abs(t - want), 2, "time %d, now %d" % (t, want))
            self.stopped_cleanly(srv)

    def each_greet_default(self, model):
        """greet sends exactly 'Thank you for connecting' (no newline), then closes"""
        with serve("greet", model=model) as srv:
            for _ in range(2):
                with connect(srv.port) as s:
                    self.assertEqual(recv_until_eof(s), GREET_DEFAULT)
            self.stopped_cleanly(srv)

    def each_greet_message(self, model):
        """greet --message TEXT sends exactly TEXT (UTF-8, spaces, newline kept), then closes"""
        msg = "Hello, wörld!\n  second line\t\n"
        with serve("greet", "--message", msg, model=model) as srv:
            with connect(srv.port) as s:
                self.assertEqual(recv_until_eof(s), msg.encode())
            self.stopped_cleanly(srv)


if __name__ == "__main__":
    sktest.main()
