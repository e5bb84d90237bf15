"""sockit serve echo/discard --frame F and sockit connect --frame F, as a black box.

Server side under every model, over TCP and over Unix stream sockets: frames echoed one
by one, re-encoded the same way, whatever the split of the stream; nothing echoed before
a frame is complete; the maximum enforced exactly (max passes, max+1 closes the
connection, logged), huge length prefixes refused at once without waiting for (or
allocating) the payload; streams cut inside a frame; garbage and NUL bytes on every
framing, checked against a reference decoder; a reset in the middle of a frame; and a
protocol error closing only that client's connection. Client side against a Python
server that records the bytes, and against sockit serve itself. Usage errors."""
import random
import socket
import struct
import subprocess
import threading
import time

import sktest
from sktest import Case, SOCKIT, TransportMixin, each_model, random_bytes, recv_exact, run
from sktest import reset_close, serve

SHORT = 0.25  # bounded wait when asserting that nothing arrives
MAX = 1000
FRAMINGS = ("line", "crlf", "fixed:7", "len16", "len32")


def enc(framing, payload):
    """The wire form of one frame."""
    if framing == "line":
        assert b"\n" not in payload
        return payload + b"\n"
    if framing == "crlf":
        assert b"\r\n" not in payload
        return payload + b"\r\n"
    if framing.startswith("fixed:"):
        assert len(payload) == int(framing[6:])
        return payload
    if framing == "len16":
        return struct.pack(">H", len(payload)) + payload
    if framing == "len32":
        return struct.pack(">I", len(payload)) + payload
    if framing in ("eof", "raw"):
        return payload
    raise ValueError(framing)


def sample_payloads(framing):
    """Three payloads valid for `framing`, with awkward bytes where the framing allows."""
    if framing.startswith("fixed:"):
        n = int(framing[6:])
        return [b"A" * n, b"\x00" * n, bytes(range(250, 250 + n)) if n < 6 else b"\r\n\x00" + b"z" * (n - 3)]
    if framing == "line":
        return [b"abc", b"", b"\x00\r\xff nul and CR\r"]
    if framing == "crlf":
        return [b"a\rb", b"", b"c\nd\r"]  # lone CR and LF are data; "d\r" + "\r\n"
    return [b"abc", b"", b"\x00\xff\r\n\x00" * 3]


def fserve(service, framing, model=None, max_frame=MAX, *extra, transport="tcp"):
    args = ["--frame", framing]
    if max_frame is not None:
        args += ["--max-frame", str(max_frame)]
    return serve(service, *(args + list(extra)), model=model,
                 addr=sktest.listen_addr(transport))


def recv_closed(case, sock, timeout=5.0):
    """Read until the server closes (EOF or reset), within `timeout`; return what came."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            case.fail("connection still open after %.1fs (got %r)" % (timeout, data[:60]))
        if not chunk:
            return data
        data += chunk
        if time.monotonic() > deadline:
            case.fail("connection still open after %.1fs" % timeout)


def assert_nothing(case, sock, wait=SHORT):
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        sock.settimeout(sktest.DEFAULT_TIMEOUT)
        return
    case.fail("unexpected bytes (or EOF) before the frame was complete: %r" % data[:60])


def client(srv):
    """A client of srv over its transport (TCP without Nagle, or a named Unix socket)."""
    s = sktest.connect_addr(srv.addrs[0])
    if s.family != socket.AF_UNIX:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def peer_re(sock):
    """How serve -v names this client in its log."""
    return sktest.peer_pattern(sock)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


GARBAGE_FRAMINGS = ("line", "crlf", "fixed:7", "len16", "len32", "eof", "raw")
_garbage = []


def garbage_streams():
    """(name, bytes) of the garbage sent on every framing: NUL-heavy noise (70% NUL), NUL
    runs with small bytes (length prefixes read from them are mostly under the maximum,
    so len16/len32 echo several garbage frames before one is too big), uniform noise,
    and text with stray CR, LF and NUL runs."""
    if not _garbage:
        def nul_heavy(n, seed):
            rng = random.Random(seed)
            return bytes(0 if rng.random() < 0.7 else rng.randrange(256) for _ in range(n))

        def nul_runs(n, seed):
            rng = random.Random(seed)
            return bytes(0 if r < 0.97 else rng.randrange(1, 4) if r < 0.995 else rng.randrange(256)
                         for r in (rng.random() for _ in range(n)))
        text = (b"\x00" * 100 + b"GET / HTTP/1.0\r\n\r\n\x00\r\x00\n" + b"A" * 300 + b"\r\r\n"
                + b"\n\x00\xff\xfe\r\n" + b"\x00" * 7 + b"x" * 1200 + b"\n")
        _garbage.extend([("nul-heavy 602", nul_heavy(602, 61)),
                         ("nul-heavy 5000", nul_heavy(5000, 62)),
                         ("nul-runs 8000", nul_runs(8000, 64)),
                         ("nul-runs 8000'", nul_runs(8000, 65)),
                         ("noise 20000", random_bytes(20000, seed=63)),
                         ("text", text * 3)])
    return _garbage


def reference_echo(framing, mx, data):
    """What sockit serve echo --frame FRAMING --max-frame MX sends back for `data`
    followed by EOF, per sockit/frame.h: (the echoed bytes, the logged error or None).
    Each frame decoded is echoed re-encoded; the first protocol error ends the stream."""
    out, p, n, eof = [], 0, len(data), False
    hdr = {"len16": 2, "len32": 4}.get(framing)
    while True:
        left = n - p
        frame = None  # (payload end, next p)
        err = None
        if framing == "raw":
            if left:
                frame = (p + min(left, mx), p + min(left, mx))
        elif framing == "line":
            i = data.find(b"\n", p, p + mx + 1)
            if i >= 0:
                frame = (i, i + 1)
            elif left > mx:
                err = "too big"
            elif eof and left:
                frame = (n, n)
        elif framing == "crlf":
            i = data.find(b"\r\n", p, p + mx + 2)
            if i >= 0:
                frame = (i, i + 2)
            elif left > mx and (eof or left > mx + 1 or data[p + mx] != 13):
                err = "too big"
            elif eof and left:
                frame = (n, n)
        elif framing.startswith("fixed:"):
            size = int(framing[6:])
            if left >= size:
                frame = (p + size, p + size)
            elif eof and left:
                err = "cut"
        elif hdr:
            if left < hdr:
                err = "cut" if eof and left else None
            else:
                ln = int.from_bytes(data[p:p + hdr], "big")
                if ln > mx:
                    err = "too big"
                elif left < hdr + ln:
                    err = "cut" if eof else None
                else:
                    out.append(data[p:p + hdr + ln])
                    p += hdr + ln
                    continue
        elif framing == "eof":
            if left > mx:
                err = "too big"
            elif eof:
                out.append(data[p:])
                return b"".join(out), None
        if err:
            return b"".join(out), ("frame over the %d-byte maximum" % mx if err == "too big"
                                   else "stream ended inside a frame")
        if frame:
            out.append(enc(framing, data[p:frame[0]]) if framing in ("line", "crlf")
                       else data[p:frame[0]])
            p = frame[1]
            continue
        if eof:
            return b"".join(out), None
        eof = True


def send_shut_and_read(case, sock, data, timeout=10.0):
    """Send data and shut the write side down from a helper thread (the server may close
    first: a send error is then expected), while reading here until EOF or a reset."""
    def sender():
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        return recv_closed(case, sock, timeout)
    finally:
        t.join(timeout)


def send_pieces_and_read(case, sock, pieces, n):
    """Send pieces one write each (with a short pause now and then, so that they arrive
    as separate reads) from a helper thread while reading n bytes here."""
    err = []

    def sender():
        try:
            for i, piece in enumerate(pieces):
                sock.sendall(piece)
                if i % 5 == 0:
                    time.sleep(0.005)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        got = recv_exact(sock, n)
    finally:
        t.join(sktest.DEFAULT_TIMEOUT)
    case.assertEqual(err, [], "sender error")
    return got

@each_model
class FramedEcho(TransportMixin, Case):
    """Over TCP (127.0.0.1:0); FramedEchoUnix runs every case again over unix:PATH."""

    def fserve(self, *args, **kw):
        return fserve(*args, transport=self.transport, **kw)

    def stopped_cleanly(self, srv):
        self.assertIsNone(srv.proc.poll(), "server exited early; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines)
        self.assertEqual(sktest.sanitizer_reports(srv.log_lines), [])

    def each_three_frames_one_write(self, model):
        """3 frames in one write come back as 3 frames, re-encoded the same way"""
        for f in FRAMINGS:
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                wire = b"".join(enc(f, p) for p in sample_payloads(f))
                with client(srv) as s:
                    s.sendall(wire)
                    self.assertSameBytes(recv_exact(s, len(wire)), wire, f)
                    # a second batch on the same connection, then a clean end
                    s.sendall(wire)
                    self.assertSameBytes(recv_exact(s, len(wire)), wire, f)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, s), b"", "bytes after the echoes")
                self.stopped_cleanly(srv)

    def each_one_byte_writes(self, model):
        """1 frame sent one byte at a time comes back once, complete, and nothing is
        echoed before its last byte"""
        for f in FRAMINGS:
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                payload = b"0123456" if f.startswith("fixed") else b"pay\x00load\r"
                wire = enc(f, payload)
                with client(srv) as s:
                    for b in wire[:-1]:
                        s.sendall(bytes([b]))
                    assert_nothing(self, s)
                    s.sendall(wire[-1:])
                    self.assertSameBytes(recv_exact(s, len(wire)), wire, f)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, s), b"")
                self.stopped_cleanly(srv)

    def each_split_header(self, model):
        """a length header split across writes, the next frame's header glued to the end
        of a payload: every split yields the same frames"""
        for f in ("len16", "len32"):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                frames = [b"first", b"", b"x" * 300, b"last"]
                wire = b"".join(enc(f, p) for p in frames)
                with client(srv) as s:
                    # header byte 1 | header rest + part of payload | ... odd cuts
                    cuts = [1, 3, 8, 9, 10, 11, 200, len(wire) - 2, len(wire)]
                    prev = 0
                    for c in cuts:
                        s.sendall(wire[prev:c])
                        prev = c
                        time.sleep(0.01)  # let the pieces arrive as separate reads
                    self.assertSameBytes(recv_exact(s, len(wire)), wire, f)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, s), b"")
                self.stopped_cleanly(srv)

    def each_max_and_over(self, model):
        """--max-frame 1000: payloads of 0 and 1000 bytes pass; 1001 closes the connection
        and -v logs 'Closing ADDR: frame over the 1000-byte maximum'"""
        for f in ("line", "crlf", "len16", "len32", "eof"):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                ok = [b"", b"m" * MAX] if f != "eof" else [b"m" * MAX]
                for p in ok:
                    with client(srv) as s:
                        s.sendall(enc(f, p))
                        if f == "eof":
                            s.shutdown(socket.SHUT_WR)
                        self.assertSameBytes(recv_exact(s, len(enc(f, p))), enc(f, p), f)
                with client(srv) as s:
                    big = b"o" * (MAX + 1)
                    s.sendall(enc(f, big)[:MAX + 1] if f != "len16" and f != "len32"
                              else enc(f, big))
                    if f == "eof":
                        s.shutdown(socket.SHUT_WR)
                    got = recv_closed(self, s)
                    self.assertEqual(got, b"", "an oversize frame was echoed (%d bytes)" % len(got))
                    srv.wait_log(r"Closing %s: frame over the 1000-byte maximum" % peer_re(s))
                self.stopped_cleanly(srv)

    def each_delimiter_late_at_the_limit(self, model):
        """crlf: a 1000-byte payload, its CR in the same write and its LF in the next, is
        a valid max-size frame, not over the maximum; line: 1000 bytes, then the LF"""
        for f, first, rest in (("crlf", b"c" * MAX + b"\r", b"\n"),
                               ("line", b"l" * MAX, b"\n")):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv, client(srv) as s:
                s.sendall(first)
                assert_nothing(self, s)
                s.sendall(rest)
                self.assertSameBytes(recv_exact(s, len(first + rest)), first + rest)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_closed(self, s), b"")

    def each_len_header_over_max_closes_at_once(self, model):
        """a length prefix over the maximum closes the connection as soon as the header is
        seen, without waiting for the payload"""
        for f, hdr in (("len16", struct.pack(">H", MAX + 1)), ("len32", struct.pack(">I", MAX + 1)),
                       ("len16", b"\xff\xff")):
            with self.subTest(framing=f, header=hdr), self.fserve("echo", f, model) as srv:
                with client(srv) as s:
                    s.sendall(hdr)  # and no payload
                    self.assertEqual(recv_closed(self, s, timeout=5), b"")
                    srv.wait_log(r"Closing %s: frame over the 1000-byte maximum" % peer_re(s))
                self.stopped_cleanly(srv)

    def each_len32_ffffffff(self, model):
        """len32 header 0xFFFFFFFF (default 1 MiB maximum): closed at once and logged; the
        server neither waits for 4 GiB nor grows its memory; it goes on serving"""
        with self.fserve("echo", "len32", model, None) as srv:
            before = rss_kb(srv.proc.pid)
            with client(srv) as s:
                s.sendall(b"\xff\xff\xff\xff" + b"z" * 100)
                self.assertEqual(recv_closed(self, s, timeout=5), b"")
                srv.wait_log(r"Closing %s: frame over the 1048576-byte maximum" % peer_re(s))
            after = rss_kb(srv.proc.pid)
            if before is not None and after is not None:
                self.assertLess(after - before, 32 * 1024, "RSS grew %d kB -> %d kB" % (before, after))
            with client(srv) as s:
                s.sendall(enc("len32", b"still ok"))
                self.assertEqual(recv_exact(s, 12), enc("len32", b"still ok"))
            self.stopped_cleanly(srv)

    def each_cut_inside_frame(self, model):
        """EOF inside a frame (a 3-byte len32 header; half a fixed frame; a len16 payload
        cut short) closes the connection, logged as 'stream ended inside a frame'; the
        complete frames before it are echoed"""
        cases = [("len32", b"\x00\x00\x00", b""),
                 ("fixed:7", b"1234567abc", b"1234567"),
                 ("len16", enc("len16", b"ok") + b"\x00\x05ab", enc("len16", b"ok"))]
        for f, sent, want in cases:
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                with client(srv) as s:
                    s.sendall(sent)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, s), want)
                    srv.wait_log(r"Closing %s: stream ended inside a frame" % peer_re(s))
                self.stopped_cleanly(srv)

    def each_garbage_payloads(self, model):
        """random binary payloads (NULs, 0xFF, CR, LF) echo exactly in len16/len32/fixed"""
        for f in ("len16", "len32", "fixed:512"):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                frames = [random_bytes(512, seed=i) for i in range(20)]
                wire = b"".join(enc(f, p) for p in frames)
                with client(srv) as s:
                    got = sktest.exchange(s, wire)
                self.assertSameBytes(got, wire, f)
                self.stopped_cleanly(srv)

    def each_line_all_bytes_but_newline(self, model):
        """line: every byte value but LF is payload; crlf: lone CR and LF are payload"""
        with self.fserve("echo", "line", model) as srv, client(srv) as s:
            p = bytes(b for b in range(256) if b != 10)
            self.assertSameBytes(sktest.exchange(s, p + b"\n" + p + b"\n"), p + b"\n" + p + b"\n")
        with self.fserve("echo", "crlf", model) as srv, client(srv) as s:
            wire = b"\r\r\n" + b"\n\n\r\n" + b"\n\r\r\n" + b"\r\n"
            self.assertSameBytes(sktest.exchange(s, wire), wire)

    def each_line_unterminated_at_eof(self, model):
        """line: a final unterminated line at EOF is echoed with '\\n' appended; crlf with
        '\\r\\n'"""
        for f, sent, want in (("line", b"a\nlast", b"a\nlast\n"),
                              ("crlf", b"a\r\nlast\r", b"a\r\nlast\r\r\n")):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv, client(srv) as s:
                self.assertSameBytes(sktest.exchange(s, sent), want, f)

    def each_eof_framing(self, model):
        """eof: the message is echoed only after the client's shutdown(SHUT_WR), whole,
        then the server closes; an empty message gives nothing and a close"""
        with self.fserve("echo", "eof", model) as srv:
            with client(srv) as s:
                parts = [b"part one\n", b"\x00\xff", b"part three"]
                for p in parts:
                    s.sendall(p)
                assert_nothing(self, s)
                s.shutdown(socket.SHUT_WR)
                self.assertSameBytes(recv_closed(self, s), b"".join(parts))
            with client(srv) as s:
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_closed(self, s), b"")
            self.stopped_cleanly(srv)

    def each_fixed_stream(self, model):
        """fixed:N: 3N bytes in one write give 3 echoes of N; 3N+2 then EOF gives the 3
        and a close"""
        with self.fserve("echo", "fixed:5", model) as srv:
            with client(srv) as s:
                s.sendall(b"aaaaabbbbbccccc")
                self.assertEqual(recv_exact(s, 15), b"aaaaabbbbbccccc")
                s.sendall(b"dd")
                assert_nothing(self, s)
                s.sendall(b"ddd")
                self.assertEqual(recv_exact(s, 5), b"ddddd")
            self.stopped_cleanly(srv)

    def each_hostile_client_isolated(self, model):
        """a protocol error closes that connection only: a well-behaved client of the
        same server keeps getting exactly its own frames"""
        f = "len32"
        with self.fserve("echo", f, model) as srv:
            def hostile(payload, shut=False):
                with client(srv) as h:
                    h.sendall(payload)
                    if shut:
                        h.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, h), b"")
                    srv.wait_log(r"Closing %s: " % peer_re(h))

            if model == "iterative":  # one client at a time: hostile first, then good
                hostile(b"\xff\xff\xff\xff")
                hostile(struct.pack(">I", MAX + 1))
                with client(srv) as g:
                    for i in range(5):
                        m = enc(f, b"good %d" % i)
                        g.sendall(m)
                        self.assertEqual(recv_exact(g, len(m)), m)
            else:
                with client(srv) as g:
                    g.sendall(enc(f, b"before"))
                    self.assertEqual(recv_exact(g, 10), enc(f, b"before"))
                    g.sendall(struct.pack(">I", 8) + b"half")  # a frame in flight meanwhile
                    hostile(b"\xff\xff\xff\xff")
                    hostile(struct.pack(">I", MAX + 1) + b"x" * 50)
                    hostile(b"\x00\x00", shut=True)  # then EOF: cut inside the header
                    g.sendall(b"done")
                    self.assertEqual(recv_exact(g, 12), struct.pack(">I", 8) + b"halfdone")
                    g.sendall(enc(f, b"after"))
                    self.assertEqual(recv_exact(g, 9), enc(f, b"after"))
                    g.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_closed(self, g), b"")
            self.stopped_cleanly(srv)

    def each_many_small_frames(self, model):
        """2000 pipelined frames in one write (and a max-size frame fed in 7-byte pieces)
        come back exactly"""
        for f in ("len16", "line", "crlf"):
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                frames = [b"%d" % i for i in range(2000)]
                wire = b"".join(enc(f, p) for p in frames)
                with client(srv) as s:
                    self.assertSameBytes(sktest.exchange(s, wire), wire, f)
                with client(srv) as s:
                    big = enc(f, b"q" * MAX)
                    for i in range(0, len(big) - 7, 7):
                        s.sendall(big[i:i + 7])
                    assert_nothing(self, s, 0.1)
                    s.sendall(big[i + 7:])
                    self.assertSameBytes(recv_exact(s, len(big)), big, f)
                self.stopped_cleanly(srv)

    def each_stop_with_partial_frame(self, model):
        """SIGTERM while a client holds half a frame: the connection is active, so it gets
        the drain period (--drain-timeout 1), then the server exits 0"""
        with self.fserve("echo", "len32", model, MAX, "--drain-timeout", "1") as srv:
            with client(srv) as s:
                s.sendall(struct.pack(">I", 500) + b"half")
                srv.wait_log(r"Connection received on %s" % peer_re(s))
                t0 = time.monotonic()
                self.assertEqual(srv.stop(), 0, srv.log_lines)
                self.assertGreater(time.monotonic() - t0, 0.8)  # it waited for the frame
                self.assertLess(time.monotonic() - t0, 5)
                self.assertEqual(recv_closed(self, s), b"")

    def each_discard_len32(self, model):
        """discard --frame len32: valid frames get nothing back; an oversize frame closes
        the connection (logged)"""
        with self.fserve("discard", "len32", model) as srv:
            with client(srv) as s:
                s.sendall(enc("len32", b"x" * 100) * 5 + enc("len32", b""))
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_closed(self, s), b"")
            self.assertFalse(any("Closing" in l for l in srv.log_lines), srv.log_lines)
            with client(srv) as s:
                s.sendall(enc("len32", b"fine") + struct.pack(">I", MAX + 1))
                self.assertEqual(recv_closed(self, s), b"")
                srv.wait_log(r"Closing %s: frame over the 1000-byte maximum" % peer_re(s))
            self.stopped_cleanly(srv)


    def each_garbage_every_framing(self, model):
        """garbage with NUL bytes (NUL-heavy noise, uniform noise, text with stray CR, LF
        and NUL runs) on every framing: the echo is exactly what a reference decoder makes
        of the stream (frames until the first protocol error, each re-encoded), the
        connection then closes, and an error is logged as 'Closing ADDR: REASON'; a fresh
        client is then served"""
        for f in GARBAGE_FRAMINGS:
            with self.subTest(framing=f), self.fserve("echo", f, model) as srv:
                outcomes = []
                for name, stream in garbage_streams():
                    with self.subTest(stream=name), client(srv) as s:
                        want, error = reference_echo(f, MAX, stream)
                        got = send_shut_and_read(self, s, stream)
                        self.assertSameBytes(got, want, "%s echo of %s" % (f, name))
                        if error:
                            srv.wait_log(r"Closing %s: %s" % (peer_re(s), error))
                        outcomes.append(error or "clean")
                with client(srv) as s:
                    p = sample_payloads(f)[0] if f not in ("eof", "raw") else b"after"
                    s.sendall(enc(f, p))
                    if f == "eof":
                        s.shutdown(socket.SHUT_WR)
                    self.assertSameBytes(recv_exact(s, len(enc(f, p))), enc(f, p), f)
                self.stopped_cleanly(srv)
                print("  %s: %s" % (f, ", ".join(outcomes)))

    def each_reset_mid_frame(self, model):
        """len32: clients that send a whole frame (whose echo they leave unread), then half
        of the next (a 500-byte header, 200 bytes), then reset (SO_LINGER {1,0}; over
        Unix the unread echo makes the close a reset): each drop is logged with the bytes
        it got, the server goes on, and a good client with a frame in flight all along
        gets every one of its frames back exactly"""
        f = "len32"
        rng = random.Random(6)
        frames = [random_bytes(rng.randint(0, MAX), seed=600 + i) for i in range(40)]
        wire = b"".join(enc(f, p) for p in frames)
        with self.fserve("echo", f, model) as srv:
            good = None if model == "iterative" else client(srv)
            try:
                if good:  # one frame echoed, the next one in flight during the resets
                    good.sendall(wire[:len(enc(f, frames[0])) + 3])
                    self.assertSameBytes(recv_exact(good, len(enc(f, frames[0]))),
                                         enc(f, frames[0]), "first good frame")
                for i in range(10):
                    h = client(srv)
                    try:
                        whole = enc(f, b"whole %d" % i)
                        h.sendall(whole)
                        # wait until the echo sits unread in h's receive queue
                        self.assertEqual(h.recv(len(whole), socket.MSG_PEEK | socket.MSG_WAITALL),
                                         whole)
                        h.sendall(struct.pack(">I", 500) + b"\x00h" * 100)
                        if model == "iterative" and i == 9:  # waits while h is served
                            good = client(srv)
                            good.sendall(wire[:len(enc(f, frames[0])) + 3])
                        peer = peer_re(h)
                    finally:
                        reset_close(h)
                    m = srv.wait_log(r"Closed %s: (\d+) bytes in, (\d+) bytes out, \S+ s: "
                                     r"connection reset by peer" % peer)
                    self.assertEqual((int(m.group(1)), int(m.group(2))),
                                     (len(whole) + 204, len(whole)), m.group(0))
                    self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines)
                if model == "iterative":  # served only now
                    self.assertSameBytes(recv_exact(good, len(enc(f, frames[0]))),
                                         enc(f, frames[0]), "first good frame")
                # the rest of the good stream, in random pieces, read back concurrently
                sent = len(enc(f, frames[0])) + 3
                rest = wire[sent:]
                cuts = sorted(rng.sample(range(1, len(rest)), 30)) + [len(rest)]
                pieces = [rest[a:b] for a, b in zip([0] + cuts, cuts)]
                got = send_pieces_and_read(self, good, pieces, len(wire) - len(enc(f, frames[0])))
                self.assertSameBytes(got, wire[len(enc(f, frames[0])):], "the good client's frames")
            finally:
                if good:
                    good.close()
            self.stopped_cleanly(srv)

class FramedEchoUnix(FramedEcho):
    """Every framed-echo case again over a Unix stream socket (-l unix:PATH), with
    clients bound to abstract names so that the log names each of them."""

    transport = "unix"


class FramingOptions(Case):
    def test_raw_and_default_unchanged(self):
        """no --frame and --frame raw: a plain byte stream, echoed as it comes"""
        for args in ([], ["--frame", "raw"], ["--frame", "raw", "--max-frame", "10"]):
            with self.subTest(args=args), serve("echo", *args) as srv, client(srv) as s:
                s.sendall(b"no newline")
                self.assertEqual(recv_exact(s, 10), b"no newline")  # not held back
                payload = random_bytes(100000, seed=9)  # far over any --max-frame given
                self.assertSameBytes(sktest.exchange(s, payload), payload)

    def test_usage_errors(self):
        """bad framings and maxima: exit 2 with a clear message"""
        cases = [
            (["echo", "--frame", "bogus"], "unknown framing 'bogus'"),
            (["echo", "--frame", "fixed:0"], "fixed:0"),
            (["echo", "--frame", "fixed:abc"], "fixed:abc"),
            (["echo", "--frame", "fixed:"], "fixed:"),
            (["echo", "--frame", "fixed:-1"], "fixed:-1"),
            (["echo", "--frame", "fixed:2000", "--max-frame", "1000"], "fixed:2000"),
            (["echo", "--frame", ""], "framing"),
            (["echo", "--frame", "LINE"], "LINE"),
            (["echo", "--frame", "line", "--max-frame", "0"], "--max-frame"),
            (["echo", "--frame", "line", "--max-frame", "2G"], "--max-frame"),
            (["echo", "--frame", "line", "--max-frame", "1073741825"], "--max-frame"),
            (["echo", "--frame", "line", "--max-frame", "-5"], "--max-frame"),
            (["echo", "--frame", "line", "--max-frame", "10X"], "--max-frame"),
            (["echo", "--frame", "line", "--max-frame", "99999999999999999999999"], "--max-frame"),
            (["chargen", "--frame", "line"], "echo and discard"),
            (["daytime", "--frame", "len32"], "echo and discard"),
            (["echo", "--frame", "line", "--udp"], "udp"),
            (["echo", "--frame"], "frame"),
        ]
        for argv, key in cases:
            with self.subTest(argv=argv):
                r = run([SOCKIT, "serve"] + argv + ["-l", "127.0.0.1:0"], timeout=10)
                self.assertEqual(r.returncode, 2, (argv, r.stderr))
                self.assertIn(key.encode(), r.stderr)
                self.assertTrue(r.stderr.startswith(b"sockit: "), r.stderr)

    def test_max_frame_suffixes(self):
        """--max-frame 64K is 65536 bytes: a 65536-byte line passes, 65537 closes"""
        with serve("echo", "--frame", "line", "--max-frame", "64K") as srv:
            with client(srv) as s:
                p = b"k" * 65536 + b"\n"
                self.assertSameBytes(sktest.exchange(s, p), p)
            with client(srv) as s:
                s.sendall(b"k" * 65537)
                self.assertEqual(recv_closed(self, s), b"")
                srv.wait_log(r"frame over the 65536-byte maximum")
        for text in ("1k", "1M", "1G", "1KiB", "2m"):
            with self.subTest(text=text), serve("echo", "--frame", "len32", "--max-frame", text):
                pass  # it starts (Server raises if "Listening on" never comes)

    def test_len16_default_max(self):
        """len16 with the default maximum: a 65535-byte payload (the largest a 2-byte
        header can say) echoes whole"""
        with serve("echo", "--frame", "len16") as srv, client(srv) as s:
            p = enc("len16", random_bytes(65535, seed=16))
            self.assertSameBytes(sktest.exchange(s, p), p)


class PyServer:
    """A one-connection TCP server in a thread: records every byte until the client's EOF,
    then sends `reply` (a list of chunks, sent with short pauses so they arrive as
    separate reads) and closes."""

    def __init__(self, reply=(), wait_eof=True):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.ls.settimeout(sktest.DEFAULT_TIMEOUT)
        self.port = self.ls.getsockname()[1]
        self.reply = list(reply)
        self.wait_eof = wait_eof
        self.got = b""
        self.err = None
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            c, _ = self.ls.accept()
            with c:
                c.settimeout(sktest.DEFAULT_TIMEOUT)
                if self.wait_eof:
                    self.got = sktest.recv_until_eof(c)
                for chunk in self.reply:
                    c.sendall(chunk)
                    time.sleep(0.02)
        except OSError as e:
            self.err = e
        finally:
            self.ls.close()

    def join(self):
        self.t.join(sktest.DEFAULT_TIMEOUT)
        return self.got


def sk_connect(port, framing, stdin, *extra, timeout=15):
    return run([SOCKIT, "connect", "--frame", framing] + list(extra) + ["127.0.0.1:%d" % port],
               input=stdin, timeout=timeout)


class ConnectFrame(Case):
    def test_wire_bytes_and_stdout(self):
        """each stdin line is one frame on the wire (headers and delimiters exact); each
        frame received, split across writes or empty, is printed on its own line"""
        for f in ("line", "crlf", "fixed:3", "len16", "len32"):
            with self.subTest(framing=f):
                if f == "fixed:3":
                    lines, frames = [b"abc", b"d\re", b"\x00\x01\x02"], [b"one", b"two", b"\x00z\r"]
                else:
                    lines = [b"first", b"", b"tab\there \x00 nul", b"last"]
                    frames = [b"one", b"", b"three\r", b"x" * 3000]
                wire = b"".join(enc(f, p) for p in frames)
                # split the reply: inside the first header/payload, between frames
                chunks = [wire[:1], wire[1:5], wire[5:6], wire[6:]]
                ps = PyServer(chunks)
                r = sk_connect(ps.port, f, b"\n".join(lines) + b"\n")
                got = ps.join()
                self.assertEqual(got, b"".join(enc(f, l) for l in lines), "wire bytes")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertSameBytes(r.stdout, b"".join(p + b"\n" for p in frames), "stdout")

    def test_large_pipelines(self):
        """200000 lines through --frame line, and 50 frames of 100 KB through len32,
        against sockit serve echo: exact, no deadlock between the two directions"""
        for f, stdin in (("line", b"".join(b"line %d\n" % i for i in range(200000))),
                         ("len32", (b"x" * 100000 + b"\n") * 50)):
            with self.subTest(framing=f), serve("echo", "--frame", f) as srv:
                r = sk_connect(srv.port, f, stdin, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertSameBytes(r.stdout, stdin, f)

    def test_max_size_frame_received(self):
        """a frame of exactly the default maximum (1 MiB) from the server is printed whole"""
        p = random_bytes(1 << 20, seed=20).replace(b"\n", b"-")
        ps = PyServer([enc("len32", p)[:3], enc("len32", p)[3:]])
        r = sk_connect(ps.port, "len32", b"")
        ps.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertSameBytes(r.stdout, p + b"\n")

    def test_unterminated_last_stdin_line(self):
        """a last stdin line without a newline is still sent as a frame at EOF"""
        ps = PyServer()
        r = sk_connect(ps.port, "len32", b"a\nb")
        self.assertEqual(ps.join(), enc("len32", b"a") + enc("len32", b"b"))
        self.assertEqual((r.returncode, r.stdout), (0, b""), r.stderr)

    def test_round_trip_every_framing(self):
        """against sockit serve echo --frame F: what goes in comes out, line by line"""
        for f in ("line", "crlf", "fixed:5", "len16", "len32", "raw"):
            with self.subTest(framing=f), serve("echo", "--frame", f) as srv:
                if f == "fixed:5":
                    stdin = b"alpha\nbeta!\n\x00\x00\x00\x00\x00\n"
                else:
                    stdin = b"alpha\nbeta\n\ngamma \x00\xff\r\n" + b"L" * 5000 + b"\n"
                r = sk_connect(srv.port, f, stdin)
                self.assertEqual(r.returncode, 0, r.stderr)
                # crlf: the line "gamma ...\r" is the payload, sent as "...\r\r\n" and
                # printed back as "...\r\n": stdout equals stdin for every framing
                self.assertSameBytes(r.stdout, stdin, f)

    def test_eof_framing(self):
        """--frame eof: all of stdin is one message, ended by the half-close; the reply
        (everything until the server closes) is printed as one line"""
        stdin = b"line one\nline two\n\x00\n"
        ps = PyServer([b"rep", b"ly\nwith newline"])
        r = sk_connect(ps.port, "eof", stdin)
        self.assertEqual(ps.join(), stdin)
        self.assertEqual((r.returncode, r.stdout), (0, b"reply\nwith newline\n"), r.stderr)
        with serve("echo", "--frame", "eof") as srv:
            r = sk_connect(srv.port, "eof", stdin)
            self.assertEqual((r.returncode, r.stdout), (0, stdin + b"\n"), r.stderr)

    def test_fixed_wrong_length_warns_and_continues(self):
        """--frame fixed:4: a stdin line of the wrong length is reported (naming the line)
        and not sent; the others are, and the exit status says not all of stdin went (1)"""
        ps = PyServer()
        r = sk_connect(ps.port, "fixed:4", b"good\ntoo long\nabcd\nxy\n1234\n")
        self.assertEqual(ps.join(), b"goodabcd1234")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"2 stdin lines not sent", r.stderr)
        self.assertIn(b"line 2", r.stderr)
        self.assertIn(b"line 4", r.stderr)
        self.assertNotIn(b"line 3", r.stderr)

    def test_oversize_frame_from_server(self):
        """a server sending a frame over --max-frame: exit 1, a clear error; the maximum
        itself passes"""
        ps = PyServer([struct.pack(">I", 10) + b"0123456789"])
        r = sk_connect(ps.port, "len32", b"", "--max-frame", "10")
        ps.join()
        self.assertEqual((r.returncode, r.stdout), (0, b"0123456789\n"), r.stderr)

        ps = PyServer([struct.pack(">I", 11) + b"0123456789A"])
        r = sk_connect(ps.port, "len32", b"", "--max-frame", "10")
        ps.join()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"maximum", r.stderr)

        ps = PyServer([b"\xff\xff\xff\xff"])  # default 1 MiB maximum: refused at once
        t0 = time.monotonic()
        r = sk_connect(ps.port, "len32", b"")
        ps.join()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"maximum", r.stderr)
        self.assertLess(time.monotonic() - t0, 5)

        ps = PyServer([b"x" * 11])  # line: 11 bytes and no newline over a 10-byte max
        r = sk_connect(ps.port, "line", b"", "--max-frame", "10")
        ps.join()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"maximum", r.stderr)

    def test_server_closes_inside_frame(self):
        """the server closing inside a frame: exit 1, 'ended inside a frame'"""
        ps = PyServer([enc("len16", b"whole") + b"\x00\x09part"])
        r = sk_connect(ps.port, "len16", b"")
        ps.join()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, b"whole\n")
        self.assertIn(b"inside a frame", r.stderr)

    def test_stdin_line_over_max(self):
        """a stdin line over --max-frame is reported and skipped: the lines before and
        after it are sent (a 1 MiB line too, which no buffer holds), and the exit status
        is 1 because not all of stdin went out (issue 12)"""
        for big in (11, 1 << 20):
            with self.subTest(line=big):
                ps = PyServer()
                r = sk_connect(ps.port, "len32", b"short\n" + b"L" * big + b"\nafter\n",
                               "--max-frame", "10")
                ps.join()
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(ps.got, b"\0\0\0\x05short\0\0\0\x05after")
                self.assertIn(b"stdin line 2 is over the 10-byte maximum frame", r.stderr)
                self.assertIn(b"1 stdin line not sent", r.stderr)

    def test_usage_errors(self):
        """connect --frame bogus / fixed:0 / --max-frame 0 / eof with --no-half-close: 2"""
        for extra, key in ((["--frame", "bogus"], b"bogus"), (["--frame", "fixed:0"], b"fixed:0"),
                           (["--frame", "line", "--max-frame", "0"], b"--max-frame"),
                           (["--frame", "line", "--max-frame", "2G"], b"--max-frame"),
                           (["--frame", "eof", "--no-half-close"], b"half-close")):
            with self.subTest(extra=extra):
                r = run([SOCKIT, "connect"] + extra + ["127.0.0.1:9"], input=b"")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(key, r.stderr)


class FramedPumpEof(Case):
    """connect --frame keeps the byte pump's EOF rules (review findings)."""

    def test_stdin_flows_on_after_the_peers_fin(self):
        """the peer shuts its write side first and keeps reading: later stdin lines still
        reach it, as with the byte pump"""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(10)
        got = {}

        def peer():
            c, _ = ls.accept()
            with c:
                c.settimeout(10)
                c.sendall(b"hello\n")
                c.shutdown(socket.SHUT_WR)
                got["data"] = sktest.recv_until_eof(c)

        t = threading.Thread(target=peer, daemon=True)
        t.start()
        script = "(echo one; sleep 0.3; echo two; sleep 0.3; echo three)"
        p = subprocess.Popen(["sh", "-c", script + " | %s connect --frame line 127.0.0.1:%d"
                              % (SOCKIT, ls.getsockname()[1])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=15)
        t.join(10)
        ls.close()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, b"hello\n")
        self.assertEqual(got.get("data"), b"one\ntwo\nthree\n")

    def test_many_empty_lines_with_a_tiny_max(self):
        """len32 turns an empty line (1 byte) into 4: the send queue must allow for that
        growth instead of calling a 0-byte line too big"""
        with fserve("echo", "len32", max_frame=16) as srv:
            lines = b"\n" * 200000
            r = sk_connect(srv.port, "len32", lines, "--max-frame", "16", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, lines)

    def test_max_frame_needs_frame(self):
        for cmd in (["serve", "echo", "-l", "127.0.0.1:0"], ["serve", "greet", "-l", "127.0.0.1:0"]):
            with self.subTest(cmd=cmd):
                r = run([SOCKIT] + cmd + ["--max-frame", "10"], timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"--max-frame needs --frame", r.stderr)


if __name__ == "__main__":
    sktest.main()
