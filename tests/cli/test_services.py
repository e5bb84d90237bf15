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


class ServeUsage(Case):
    """What serve says to mistakes (issue 12 §2)."""

    def usage(self, args, message, status=2):
        r = sktest.run([sktest.SOCKIT, "serve"] + args, timeout=5)
        self.assertEqual(r.returncode, status, "%r: stderr %r" % (args, r.stderr))
        err = r.stderr.decode()
        self.assertEqual(err.splitlines()[0], message, err)
        return err

    def test_unknown_service_with_arguments(self):
        """serve exec PROGRAM (exec comes later), or any unknown service with arguments:
        'unknown service', not 'unexpected argument'"""
        self.usage(["exec", "/bin/cat"], "sockit: unknown service 'exec'")
        self.usage(["nosuch", "a", "b"], "sockit: unknown service 'nosuch'")
        self.usage(["echo", "extra"], "sockit: unexpected argument 'extra'")

    def test_len16_over_its_limit(self):
        """--frame len16 --max-frame 70000: a usage error naming the 65535 limit (70000 was
        accepted, and frames over 65535 then failed); 65535 itself is fine"""
        err = self.usage(["echo", "-l", "127.0.0.1:0", "--frame", "len16", "--max-frame",
                          "70000"], "sockit: len16: max frame 70000 is over 65535, the most a "
                                    "2-byte length can say (use len32)")
        self.assertIn("Usage: sockit serve", err)
        with serve("echo", "--frame", "len16", "--max-frame", "65535") as srv:
            self.assertEqual(srv.stop(), 0)

    def test_fixed_not_a_number(self):
        """--frame fixed:abc says the N is not a number"""
        self.usage(["echo", "--frame", "fixed:abc"],
                   "sockit: fixed:abc: N is not a number (expected fixed:N, N 1 to 1048576)")

    def test_unix_path_that_is_a_regular_file(self):
        """-l unix:PATH where PATH is a regular file: 'not a socket' (not 'Address already
        in use'), exit 1, and the file is left as it was"""
        import os
        import tempfile
        d = tempfile.mkdtemp(prefix="sockit-serve-")
        path = os.path.join(d, "notes.txt")
        try:
            with open(path, "w") as f:
                f.write("keep me\n")
            self.usage(["echo", "-l", "unix:" + path],
                       "sockit: bind unix:%s: not a socket (a file of another kind is in the "
                       "way; it is left alone)" % path, status=1)
            with open(path) as f:
                self.assertEqual(f.read(), "keep me\n")
        finally:
            os.unlink(path)
            os.rmdir(d)

    def test_synopsis_complete_and_even(self):
        """the usage synopsis names every option of --help (as [--name ...]), its lines are
        no longer than 80 columns and none is much shorter than the others but the last"""
        import re
        r = sktest.run([sktest.SOCKIT, "serve"], timeout=5)
        err = r.stderr.decode().splitlines()
        syn = [ln for ln in err if ln.startswith("Usage: sockit serve") or ln.startswith("  ")]
        text = " ".join(syn)
        helptext = sktest.run([sktest.SOCKIT, "serve", "--help"], timeout=5).stdout.decode()
        opts = set(re.findall(r"^ {2}(?:-\w, )?(--[a-z-]+)|^ {6}(--[a-z-]+)", helptext, re.M))
        names = {a or b for a, b in opts} - {"--help", "--verbose", "--listen"}
        missing = sorted(n for n in names if n not in text)
        self.assertEqual(missing, [], "options missing from the synopsis: %r" % syn)
        widths = [len(ln) for ln in syn]
        self.assertLessEqual(max(widths), 80, syn)
        self.assertGreaterEqual(min(widths[:-1]), 60, syn)


if __name__ == "__main__":
    sktest.main()
