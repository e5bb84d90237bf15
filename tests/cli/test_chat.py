"""sockit serve chat: a line-framed chat room, tested as a black box under the models that
run it (loop, with --threads 4 so that members live on different loop threads, and
thread): the exact bytes every member receives ("[ADDR] line", "* [ADDR] joined (N
online)", "* [ADDR] left (N online)"), ordering, 50 members, a member that stops reading
(dropped, the room goes on, the server's memory stays bounded), over-long lines, IPv6 and
Unix names, SIGTERM, and the models and framings chat refuses.

Readiness: a member is in the room once another member has received its join notice
(the notice is queued to everyone under the room's lock, in the same step that adds the
member). Every read has a deadline; the only fixed waits assert that nothing arrives."""
import os
import re
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest

import sktest
from sktest import SOCKIT, Case, each_model_in, rss_kb, run, serve

T = sktest.DEFAULT_TIMEOUT
QUIET = 0.2  # how long "nothing arrives" is watched


from sktest import have_ipv6_loopback


HAVE_V6 = have_ipv6_loopback()


def chat(model, *args, addr="127.0.0.1:0"):
    """`sockit serve chat -l ADDR -v --model MODEL`; the loop model on 4 threads."""
    extra = ["--threads", "4"] if model == "loop" else []
    return serve("chat", *(extra + list(args)), model=model, addr=addr)


def sock_name(sock):
    """The member's name as the server prints it: "[127.0.0.1:PORT]", "[[::1]:PORT]"."""
    a = sock.getsockname()
    if sock.family == socket.AF_INET6:
        return ("[[%s]:%d]" % (a[0], a[1])).encode()
    return ("[%s:%d]" % (a[0], a[1])).encode()


def addr_text(member):
    """The member's address as the -v log prints it (the name without the brackets)."""
    return member.name[1:-1].decode()


def utf8_len(b, i):
    """The length of the printable UTF-8 sequence at b[i] (2-4), or 0 (as sk_escape)."""
    lead = b[i]
    n = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    if not n:
        return 0
    try:
        ch = b[i:i + n].decode("utf-8")  # strict: no overlongs, surrogates, > U+10FFFF
    except UnicodeDecodeError:
        return 0
    return n if len(ch) == 1 and ord(ch) >= 0xA0 else 0  # U+0080..U+009F: C1 controls


def escaped(b):
    """What sk_escape() makes of bytes b: \\r \\n \\t, \\xHH for other controls, DEL,
    C1 and bytes that are not UTF-8; printable ASCII and UTF-8 as they are."""
    out, i = bytearray(), 0
    while i < len(b):
        n = utf8_len(b, i) if b[i] >= 0x80 else 0
        if n:
            out += b[i:i + n]
            i += n
            continue
        c = b[i]
        out += (bytes([c]) if 0x20 <= c < 0x7F else b"\\n" if c == 10 else b"\\r" if c == 13
                else b"\\t" if c == 9 else b"\\x%02x" % c)
        i += 1
    return bytes(out)


def joined(m, n):
    return b"* %s joined (%d online)\n" % (m.name, n)


def left(m, n):
    return b"* %s left (%d online)\n" % (m.name, n)


def tcp_queued(server_port, client_port):
    """Bytes a server's IPv4 loopback connection to client_port has written and the
    client has not read: the server socket's send queue plus the client's receive queue
    (/proc/net/tcp), or -1 if either socket is not found."""
    tx = rx = None
    with open("/proc/net/tcp") as f:
        for row in f.readlines()[1:]:
            fields = row.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            txq, rxq = (int(x, 16) for x in fields[4].split(":"))
            if (lport, rport) == (server_port, client_port):
                tx = txq
            elif (lport, rport) == (client_port, server_port):
                rx = rxq
    return -1 if tx is None or rx is None else tx + rx


class Member:
    """A chat client: a socket, its name in the room, and what it has read but not taken."""

    def __init__(self, sock, name):
        self.sock = sock
        self.name = name
        self.buf = bytearray()

    def fill(self, deadline):
        """One read into buf before the deadline. False when the deadline passed."""
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left_s)
        if not r:
            return False
        data = self.sock.recv(1 << 16)
        if not data:
            raise AssertionError("%s: EOF from the server; unread: %r"
                                 % (self.name.decode(), bytes(self.buf[:200])))
        self.buf += data
        return True

    def take(self, n, timeout=T):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self.fill(deadline):
                raise AssertionError("%s: %d of %d bytes within %.1f s: %r"
                                     % (self.name.decode(), len(self.buf), n, timeout,
                                        bytes(self.buf[:300])))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def line(self, timeout=T):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if not self.fill(deadline):
                raise AssertionError("%s: no whole line within %.1f s: %r"
                                     % (self.name.decode(), timeout, bytes(self.buf[:300])))
        i = self.buf.index(b"\n") + 1
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def read_to_end(self, timeout=T):
        """Everything until EOF or a reset: (bytes, 'eof' | 'reset' | 'timeout')."""
        deadline = time.monotonic() + timeout
        while True:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                return bytes(self.buf), "timeout"
            r, _, _ = select.select([self.sock], [], [], left_s)
            if not r:
                return bytes(self.buf), "timeout"
            try:
                data = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return bytes(self.buf), "reset"
            if not data:
                return bytes(self.buf), "eof"
            self.buf += data

    def send(self, data):
        self.sock.sendall(data)


class ChatCase(Case):
    def setUp(self):
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()

    def tcp_member(self, srv, family=socket.AF_INET, host="127.0.0.1", rcvbuf=None):
        s = socket.socket(family, socket.SOCK_STREAM)
        self.socks.append(s)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(T)
        s.connect((host, srv.port))
        return Member(s, sock_name(s))

    def expect(self, m, want, what=None):
        got = m.take(len(want))
        self.assertSameBytes(got, want, what or "what %s received" % m.name.decode())

    def assertQuiet(self, members, wait=QUIET):
        """Nothing more arrives at any of the members within `wait` seconds."""
        extra = {m.name: bytes(m.buf) for m in members if m.buf}
        r, _, _ = select.select([m.sock for m in members], [], [], wait)
        for m in members:
            if m.sock in r:
                try:
                    extra[m.name] = bytes(m.buf) + m.sock.recv(1 << 16)
                except OSError as e:
                    extra[m.name] = repr(e)
        self.assertEqual(extra, {}, "unexpected bytes for these members")

    def join(self, n, make):
        """n members, joined one after another; every join notice each one receives is
        checked byte-exact. Returns them in the order the room saw them join."""
        a, b = make(), make()
        # The first two may be added in either order (two loop threads, two session
        # threads): exactly one of them hears of the other.
        deadline = time.monotonic() + T
        while b"\n" not in a.buf and b"\n" not in b.buf:
            r, _, _ = select.select([a.sock, b.sock], [], [], max(0, deadline - time.monotonic()))
            if not r:
                self.fail("neither of the first two members heard the other join")
            for m in (a, b):
                if m.sock in r:
                    data = m.sock.recv(1 << 16)
                    self.assertTrue(data, "EOF for %s while joining" % m.name.decode())
                    m.buf += data
        members = [a, b] if b"\n" in a.buf else [b, a]
        self.expect(members[0], joined(members[1], 2), "the second member's join notice")
        for k in range(3, n + 1):
            m = make()
            self.expect(members[0], joined(m, k), "join notice #%d" % k)
            members.append(m)
        for i in range(1, n):
            self.expect(members[i], b"".join(joined(members[j], j + 1) for j in range(i + 1, n)),
                        "join notices member #%d received" % (i + 1))
        return members

    def stopped_cleanly(self, srv):
        """Close the members (a server ending a session waits a moment for its peer's
        close), then SIGTERM: exit status 0."""
        for sock in self.socks:
            sock.close()
        self.assertIsNone(srv.proc.poll(), "server exited early; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines[-20:])


class Collector(threading.Thread):
    """Reads a member's socket into member.buf in the background (under cond, notified on
    every read) until told to stop or EOF."""

    def __init__(self, member, cond):
        super().__init__(daemon=True)
        self.m = member
        self.cond = cond
        self.stopping = False
        self.eof = False
        self.error = None

    def run(self):
        try:
            while not self.stopping:
                r, _, _ = select.select([self.m.sock], [], [], 0.05)
                if not r:
                    continue
                data = self.m.sock.recv(1 << 16)
                with self.cond:
                    if not data:
                        self.eof = True
                    else:
                        self.m.buf += data
                    self.cond.notify_all()
                if not data:
                    return
        except OSError as e:
            self.error = e
            with self.cond:
                self.cond.notify_all()


class Flooder(threading.Thread):
    """Sends `data` on sock as fast as the socket takes it (sendall in 64 KiB pieces),
    counting what went out in .sent; a failure is kept in .error."""

    def __init__(self, sock, data):
        super().__init__(daemon=True)
        self.sock, self.data = sock, data
        self.sent = 0
        self.error = None

    def run(self):
        try:
            for i in range(0, len(self.data), 65536):
                self.sock.sendall(self.data[i:i + 65536])
                self.sent = i + len(self.data[i:i + 65536])
        except OSError as e:
            self.error = e


class PipeReader(threading.Thread):
    """Reads a pipe (a subprocess's stdout) to its end in the background."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f = f
        self.chunks = []
        self.n = 0
        self.eof = False

    def run(self):
        fd = self.f.fileno()
        while True:
            data = os.read(fd, 1 << 16)
            if not data:
                self.eof = True
                return
            self.chunks.append(data)
            self.n += len(data)

    def size(self):
        return self.n

    def data(self):
        return b"".join(self.chunks)


# How long the room waits for a member whose queue does not move (chat.c STALL_NS).
STALL = 5.0


@each_model_in("loop", "thread")
class ChatTests(ChatCase):

    def each_two_members(self, model):
        """two members: join notice, each line to the other as '[ADDR] line', never back to
        its sender, and the leave notice when one closes"""
        with chat(model) as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            for m in (a, b):
                srv.wait_log(r"Connection received on %s$" % re.escape(addr_text(m)))
            a.send(b"hello\n")
            self.expect(b, a.name + b" hello\n")
            b.send(b"hi there, a\n")
            self.expect(a, b.name + b" hi there, a\n")
            self.assertQuiet([a, b])  # neither heard itself
            a.sock.close()
            self.expect(b, left(a, 1))
            self.assertQuiet([b])
            srv.wait_log(r"Closed %s: " % re.escape(addr_text(a)))
            self.stopped_cleanly(srv)

    def each_five_members(self, model):
        """five members: join notices with counts 2..5 byte-exact; each member's line
        reaches exactly the four others; nobody hears itself"""
        with chat(model) as srv:
            ms = self.join(5, lambda: self.tcp_member(srv))
            for i, m in enumerate(ms):
                msg = b"message %d from member %d\n" % (i * 7, i)
                m.send(msg)
                for o in ms:
                    if o is not m:
                        self.expect(o, m.name + b" " + msg)
            self.assertQuiet(ms)
            ms[2].sock.close()
            for o in ms[:2] + ms[3:]:
                self.expect(o, left(ms[2], 4))
            ms[0].send(b"still here\n")
            for o in (ms[1], ms[3], ms[4]):
                self.expect(o, ms[0].name + b" still here\n")
            self.assertQuiet([ms[0], ms[1], ms[3], ms[4]])
            self.stopped_cleanly(srv)

    def each_one_byte_writes(self, model):
        """a line written one byte per send arrives whole, once; nothing arrives before its
        newline"""
        line = b"a line in many little pieces"
        with chat(model) as srv:
            a, b, c = self.join(3, lambda: self.tcp_member(srv))
            a.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i, byte in enumerate(line):
                a.send(bytes([byte]))
                if i < 5:  # spaces the first writes apart, and checks no partial line leaks
                    self.assertQuiet([b, c], 0.05)
            a.send(b"\n")
            a.send(b"next\n")
            for o in (b, c):
                self.expect(o, a.name + b" " + line + b"\n" + a.name + b" next\n")
            self.assertQuiet([a, b, c])
            self.stopped_cleanly(srv)

    def each_line_contents(self, model):
        """CR LF loses its CR (one CR only); an empty line is '[ADDR] \\n'; UTF-8 passes
        through unchanged; every other control byte, and bytes 128-255 that are not UTF-8,
        are spelled out (\\r, \\t, \\x00, \\xff), so no member can rewrite the others'
        lines or drive their terminals"""
        binary = bytes(x for x in range(256) if x != 10)  # ends with 0xff, no newline
        utf8 = "h\u00e9llo w\u00f6rld \u2713 \U0001f600".encode()
        cases = [
            (b"hello\r\n", b"hello"),
            (b"\n", b""),
            (b"\r\n", b""),
            (b"x\r\r\n", b"x\r"),
            (b"mid\rdle\n", b"mid\rdle"),
            (b"\x00\x00nul\x00\n", b"\x00\x00nul\x00"),
            (binary + b"\n", binary),
            (binary + b"\r\n", binary),
            (utf8 + b"\r\n", utf8),
            (b"  spaces  \t\n", b"  spaces  \t"),
        ]
        with chat(model) as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            a.send(b"".join(sent for sent, _ in cases))
            want = b"".join(a.name + b" " + escaped(body) + b"\n" for _, body in cases)
            self.assertIn(b"mid\\rdle", want)  # the reference escapes, too
            self.expect(b, want, "lines with CR, empty, binary and UTF-8 bodies")
            self.assertQuiet([a, b])
            self.stopped_cleanly(srv)

    def each_unterminated_last_line(self, model):
        """a last line without a newline, ended by the member's EOF, still goes out (with a
        newline), then the member leaves and its socket is closed"""
        with chat(model) as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            a.send(b"last words")
            self.assertQuiet([b])
            a.sock.shutdown(socket.SHUT_WR)
            self.expect(b, a.name + b" last words\n" + left(a, 1))
            data, how = a.read_to_end()
            a.sock.close()
            self.assertEqual((data, how), (b"", "eof"), "what the leaving member saw")
            self.stopped_cleanly(srv)

    def each_ordering_1000_lines(self, model):
        """1000 numbered lines sent in one burst reach each of four other members complete,
        in order, byte-exact"""
        lines = [b"line %04d %s\n" % (i, b"z" * (i % 37)) for i in range(1000)]
        with chat(model) as srv:
            ms = self.join(5, lambda: self.tcp_member(srv))
            ms[1].send(b"".join(lines))
            want = b"".join(ms[1].name + b" " + x for x in lines)
            for o in ms[:1] + ms[2:]:
                self.expect(o, want, "the burst as %s received it" % o.name.decode())
            self.assertQuiet(ms)
            self.stopped_cleanly(srv)

    def each_fifty_members(self, model):
        """50 members each send one line: every member receives exactly the 49 others'
        lines, and nothing else"""
        n = 50
        with chat(model) as srv:
            ms = self.join(n, lambda: self.tcp_member(srv))
            for i, m in enumerate(ms):
                m.send(b"hello from %d\n" % i)
            for i, m in enumerate(ms):
                got = sorted(m.line() for _ in range(n - 1))
                want = sorted(o.name + b" hello from %d\n" % j for j, o in enumerate(ms) if j != i)
                self.assertEqual(got, want, "lines member #%d received" % i)
            self.assertQuiet(ms, 0.3)
            self.stopped_cleanly(srv)

    def each_leave_on_close_and_reset(self, model):
        """a member that closes, then one that resets: the others hear each leave with the
        right count, and the reset is logged as such"""
        with chat(model) as srv:
            a, b, c = self.join(3, lambda: self.tcp_member(srv))
            c.sock.close()
            self.expect(a, left(c, 2))
            self.expect(b, left(c, 2))
            sktest.reset_close(b.sock)
            self.expect(a, left(b, 1))
            srv.wait_log(r"Closed %s: .*connection reset by peer" % re.escape(addr_text(b)))
            d = self.tcp_member(srv)
            self.expect(a, joined(d, 2))
            d.send(b"after\n")
            self.expect(a, d.name + b" after\n")
            self.assertQuiet([a, d])
            self.stopped_cleanly(srv)

    def each_over_long_line(self, model):
        """--frame line --max-frame 100: a 100-byte line goes out; 101 bytes without a
        newline close that member only (logged), the others hear it leave and go on"""
        with chat(model, "--frame", "line", "--max-frame", "100") as srv:
            a, b, c = self.join(3, lambda: self.tcp_member(srv))
            ok = b"%0100d" % 7
            a.send(ok + b"\n")
            for o in (b, c):
                self.expect(o, a.name + b" " + ok + b"\n")
            a.send(b"y" * 101)
            srv.wait_log(r"Closing %s: frame over the 100-byte maximum" % re.escape(addr_text(a)))
            data, how = a.read_to_end()
            a.sock.close()
            self.assertEqual((data, how), (b"", "eof"), "what the over-long member saw")
            for o in (b, c):
                self.expect(o, left(a, 2))
            b.send(b"we go on\n")
            self.expect(c, b.name + b" we go on\n")
            c.send(b"yes\n")
            self.expect(b, c.name + b" yes\n")
            self.assertQuiet([b, c])
            self.stopped_cleanly(srv)

    def each_protocol_error_leaves_at_once(self, model):
        """a member closed for an over-long line is out of the room at once, even while
        its socket is still open: the others hear it leave before a newcomer's join, and
        the newcomer's count leaves it out"""
        with chat(model, "--frame", "line", "--max-frame", "10") as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            a.send(b"z" * 11)
            srv.wait_log(r"Closing %s: frame over the 10-byte maximum" % re.escape(addr_text(a)))
            d = self.tcp_member(srv)  # a has not closed its socket
            want = left(a, 1) + joined(d, 2)
            self.assertEqual(b.take(len(want)), want,
                             "what the remaining member heard after the protocol error, then a "
                             "join (the member closed for it must leave the room at once)")
            data, how = a.read_to_end()
            self.assertEqual((data, how), (b"", "eof"), "what the over-long member saw")
            self.assertQuiet([b, d])
            self.stopped_cleanly(srv)

    def each_default_line_limit(self, model):
        """without --frame a line may be 65536 bytes; one of 65537 closes that member"""
        with chat(model) as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            body = bytes(65 + i % 26 for i in range(65536))
            a.send(body + b"\n")
            self.expect(b, a.name + b" " + body + b"\n", "a 65536-byte line")
            a.send(body + b"x")
            srv.wait_log(r"Closing %s: frame over the 65536-byte maximum" % re.escape(addr_text(a)))
            data, how = a.read_to_end()
            a.sock.close()
            self.assertEqual((data, how), (b"", "eof"), "what the over-long member saw")
            self.expect(b, left(a, 1))
            self.assertQuiet([b])
            self.stopped_cleanly(srv)

    def each_crlf_framing(self, model):
        """--frame crlf: a line ends only at CR LF (a bare LF is part of it, relayed as
        \\n); --max-frame 20 closes a member whose line runs past 20 bytes"""
        with chat(model, "--frame", "crlf", "--max-frame", "20") as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            a.send(b"one\ntwo\r\n" + b"%020d\r\n" % 5)
            self.expect(b, a.name + b" one\\ntwo\n" + a.name + b" %020d\n" % 5)
            a.send(b"q" * 22)
            srv.wait_log(r"Closing %s: frame over the 20-byte maximum" % re.escape(addr_text(a)))
            data, how = a.read_to_end()
            a.sock.close()
            self.assertEqual((data, how), (b"", "eof"), "what the over-long member saw")
            self.expect(b, left(a, 1))
            self.assertQuiet([b])
            self.stopped_cleanly(srv)

    def each_slow_member_dropped(self, model):
        """a member that never reads while another floods 16 MiB (--max-output 256K): once
        the kernel's buffers towards it are full, the room waits for it STALL (5 s) at
        most, then drops it and its socket ends; the readers get every line byte-exact,
        everyone hears it leave without it having read anything, the flooder is never
        dropped, and the server's RSS stays bounded"""
        nlines = 16 * 1024
        filler = b"f" * (1024 - 10)
        with chat(model, "--max-output", "256K") as srv:
            f, r1, r2 = self.join(3, lambda: self.tcp_member(srv))
            nr = self.tcp_member(srv, rcvbuf=4096)
            for m in (f, r1, r2):
                self.expect(m, joined(nr, 4))
            pid = srv.proc.pid
            rss0 = rss_kb(pid)
            prefix = f.name + b" "
            lines = [b"%08d " % i + filler + b"\n" for i in range(nlines)]
            want = b"".join(prefix + x for x in lines)
            gone = left(nr, 3)
            cond = threading.Condition()
            cols = [Collector(m, cond) for m in (r1, r2, f)]
            for c in cols:
                c.start()
            readers = cols[:2]
            flood = Flooder(f.sock, b"".join(lines))
            rss_max = rss0
            try:
                flood.start()
                deadline = time.monotonic() + T + STALL
                with cond:
                    while not all(len(c.m.buf) >= len(want) for c in readers):
                        if time.monotonic() > deadline:
                            break
                        cond.wait(0.2)
                        rss_max = max(rss_max, rss_kb(pid) or 0)
                self.assertTrue(all(len(c.m.buf) >= len(want) for c in readers),
                                "readers got %r of %d bytes; log: %r"
                                % ([len(c.m.buf) for c in readers], len(want),
                                   srv.log_lines[-5:]))
                flood.join(T)
                self.assertIsNone(flood.error, "the flooder's sends failed")
                # The non-reader has read nothing yet: the room must have dropped it by now.
                with cond:
                    heard_before_read = cond.wait_for(
                        lambda: all(gone in c.m.buf for c in cols), 3)
                data, how = nr.read_to_end(T)
                self.assertIn(how, ("eof", "reset"), "the dropped member's socket did not end; "
                              "read %d bytes" % len(data))
                self.assertLess(len(data), len(want), "the dropped member got the whole flood")
                self.assertSameBytes(data, want[:len(data)], "what the dropped member got")
                with cond:
                    cond.wait_for(lambda: all(gone in c.m.buf for c in cols), T)
            finally:
                for c in cols:
                    c.stopping = True
                for c in cols:
                    c.join(T)
            for c in readers:
                got = bytes(c.m.buf)
                self.assertEqual(got.count(gone), 1, "the leave notice for %s in %s's stream"
                                 % (nr.name.decode(), c.m.name.decode()))
                self.assertSameBytes(got.replace(gone, b"", 1), want,
                                     "the flood as %s received it" % c.m.name.decode())
            self.assertEqual(bytes(f.buf), gone, "what the flooder received")
            srv.wait_log(r"Closed %s: .*output over the maximum \(--max-output\)"
                         % re.escape(addr_text(nr)))
            self.assertFalse([x for x in srv.log_lines if "Clos" in x and
                              addr_text(nr) not in x], "someone else was closed")
            if not os.environ.get("SOCKIT_SANITIZER"):  # ASan's quarantine keeps what is freed
                self.assertLess(rss_max - rss0, 20 * 1024,
                                "server RSS grew from %d to %d KiB" % (rss0, rss_max))
            self.assertTrue(heard_before_read,
                            "the room did not drop the member that stopped reading until it "
                            "read again: no '%s' within 3 s after the flood" % gone.decode().strip())
            self.stopped_cleanly(srv)

    def each_flood_never_drops_readers(self, model):
        """one member floods 24 MiB of lines as fast as it can; three members read as fast
        as they can (two Python readers and `sockit connect` into a pipe): none of the
        readers is dropped, each gets the flood byte-exact, and the flooder, slowed to
        their pace, is not dropped either (its last line still arrives)"""
        nlines = 24 * 1024
        filler = b"g" * (1024 - 10)
        with chat(model) as srv:
            f, r1, r2 = self.join(3, lambda: self.tcp_member(srv))
            cmd = sktest.subprocess.Popen(
                [SOCKIT, "connect", "127.0.0.1:%d" % srv.port], stdin=sktest.subprocess.PIPE,
                stdout=sktest.subprocess.PIPE, stderr=sktest.subprocess.PIPE)
            try:
                piped = PipeReader(cmd.stdout)
                piped.start()
                m = srv.wait_log(r"Connection received on (127\.0\.0\.1:\d+)$")
                for mm in (f, r1, r2):  # its join notice; its name is the 4th connection's
                    line = mm.line()
                    self.assertRegex(line, rb"^\* \[127\.0\.0\.1:\d+\] joined \(4 online\)\n$")
                prefix = f.name + b" "
                lines = [b"%08d " % i + filler + b"\n" for i in range(nlines)] + [b"the end\n"]
                want = b"".join(prefix + x for x in lines)
                cond = threading.Condition()
                cols = [Collector(mm, cond) for mm in (r1, r2, f)]
                for c in cols:
                    c.start()
                flood = Flooder(f.sock, b"".join(lines))
                flood.start()
                deadline = time.monotonic() + 6 * T
                done = lambda: (all(len(c.m.buf) >= len(want) for c in cols[:2]) and
                                piped.size() >= len(want))
                with cond:
                    while not done() and time.monotonic() < deadline and not piped.eof:
                        cond.wait(0.2)
                for c in cols:
                    c.stopping = True
                for c in cols:
                    c.join(T)
                flood.join(T)
                self.assertIsNone(flood.error, "the flooder's sends failed")
                closed = [x for x in srv.log_lines if x.startswith(("Closed", "Closing"))]
                self.assertEqual(closed, [], "members were dropped")
                for c in cols[:2]:
                    self.assertSameBytes(bytes(c.m.buf), want,
                                         "the flood as %s received it" % c.m.name.decode())
                self.assertSameBytes(piped.data(), want, "the flood as sockit connect got it")
                self.assertEqual(bytes(f.buf), b"", "what the flooder received")
            finally:
                cmd.stdin.close()
                cmd.stdout.close()
                cmd.wait(T)
            self.stopped_cleanly(srv)

    def each_slow_reader_slows_the_flooder(self, model):
        """a member that reads, slowly (about 1 MB/s), holds a flooder back instead of being
        dropped: for 3 s the flooder gets no further ahead of it than the room's queues and
        the kernel buffers allow, then the reader speeds up and gets every line"""
        nlines = 48 * 1024
        filler = b"h" * (1024 - 10)
        with chat(model) as srv:
            f, r = self.join(2, lambda: self.tcp_member(srv))
            r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            prefix = f.name + b" "
            lines = [b"%08d " % i + filler + b"\n" for i in range(nlines)]
            want = b"".join(prefix + x for x in lines)
            flood = Flooder(f.sock, b"".join(lines))
            flood.start()
            got = bytearray()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3:
                got += r.sock.recv(32768)
                time.sleep(0.03)
            ahead = flood.sent - len(got)
            self.assertLess(flood.sent, len(b"".join(lines)), "the flooder was not slowed")
            self.assertLess(ahead, 24 << 20, "the flooder ran %d bytes ahead of the reader"
                            % ahead)
            r.buf = got
            self.expect(r, want, "the flood as the slow reader got it")
            flood.join(T)
            self.assertIsNone(flood.error, "the flooder's sends failed")
            self.assertQuiet([f, r])
            self.assertFalse([x for x in srv.log_lines if x.startswith(("Closed", "Closing"))],
                             "a member was dropped")
            self.stopped_cleanly(srv)

    def each_sigterm_prompt(self, model):
        """SIGTERM with idle members connected (default 10 s drain): exit 0 in under 3 s;
        the members see their connection end, after at most leave notices"""
        with chat(model) as srv:
            ms = self.join(4, lambda: self.tcp_member(srv))
            ms[0].send(b"before the end\n")
            for o in ms[1:]:
                self.expect(o, ms[0].name + b" before the end\n")
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            notice = re.compile(rb"\* \[127\.0\.0\.1:\d+\] left \(\d online\)\n")
            for m in ms:  # each member closes once the server has ended its session
                data, how = m.read_to_end(3)
                m.sock.close()
                self.assertIn(how, ("eof", "reset"), "%s: connection not ended within 3 s of "
                              "SIGTERM; log: %r" % (m.name.decode(), srv.log_lines[-10:]))
                self.assertEqual(notice.sub(b"", data), b"",
                                 "%s got more than leave notices" % m.name.decode())
            try:
                srv.proc.wait(max(0.1, t0 + 3 - time.monotonic()))
            except sktest.subprocess.TimeoutExpired:
                self.fail("chat server still running 3 s after SIGTERM with idle members")
            took = time.monotonic() - t0
            self.assertEqual(srv.proc.returncode, 0, "exit status; log: %r" % srv.log_lines)
            self.assertLess(took, 3.0)
            srv.drain_log()
            self.assertEqual(len([x for x in srv.log_lines if x.startswith("Closed ")]), 4,
                             "one 'Closed' line per member; log: %r" % srv.log_lines)

    @unittest.skipUnless(HAVE_V6, "IPv6 loopback ::1 unusable")
    def each_ipv6_names(self, model):
        """over IPv6 a member is named '[[::1]:PORT]' (the address in sockit's brackets)"""
        with chat(model, addr="[::1]:0") as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv, socket.AF_INET6, "::1"))
            self.assertTrue(re.fullmatch(rb"\[\[::1\]:\d+\]", a.name), a.name)
            a.send(b"v6\n")
            self.expect(b, b"[[::1]:%d] v6\n" % a.sock.getsockname()[1])
            bport = b.sock.getsockname()[1]
            b.sock.close()
            self.expect(a, b"* [[::1]:%d] left (1 online)\n" % bport)
            self.stopped_cleanly(srv)

    def each_unix_names(self, model):
        """over a Unix socket an unnamed member is named after the listener's path,
        '[unix:PATH]'; a member bound to its own path is named by that path"""
        d = tempfile.mkdtemp(prefix="sockit-chat-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "c.sock")
        lname = b"[unix:" + path.encode() + b"]"

        def unix_member(bind=None):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socks.append(s)
            s.settimeout(T)
            if bind:
                s.bind(bind)
            s.connect(path)
            return Member(s, b"[unix:" + bind.encode() + b"]" if bind else lname)

        with chat(model, addr="unix:" + path) as srv:
            self.assertEqual(srv.addrs, ["unix:" + path])
            a, b = self.join(2, unix_member)
            self.assertEqual(b.name, lname)
            c = unix_member(os.path.join(d, "named.sock"))
            for m in (a, b):
                self.expect(m, joined(c, 3))
            self.assertEqual(joined(c, 3),
                             b"* [unix:" + d.encode() + b"/named.sock] joined (3 online)\n")
            a.send(b"over unix\n")
            for o in (b, c):
                self.expect(o, lname + b" over unix\n")
            c.send(b"named\n")
            for o in (a, b):
                self.expect(o, c.name + b" named\n")
            a.sock.close()
            for o in (b, c):
                self.expect(o, b"* " + lname + b" left (2 online)\n")
            self.assertQuiet([b, c])
            self.stopped_cleanly(srv)
        self.assertFalse(os.path.exists(path), "socket file left behind")


@each_model_in("loop", "thread")
class ChatBounds(ChatCase):
    def each_drained_queues_cost_nothing(self, model):
        """--max-buffered 64K: one 16000-byte line fills every member's queue once; drained,
        the queues give their storage back, so the budget is not left half full and the
        short lines after it flow at once (once, kept storage stayed charged and each
        line paused its sender for 5 s)"""
        with chat(model, "--max-buffered", "64K") as srv:
            members = self.join(4, lambda: self.tcp_member(srv))
            long_line = b"L" * 16000 + b"\n"
            members[0].send(long_line)
            for m in members[1:]:
                self.expect(m, members[0].name + b" " + long_line)
            t0 = time.monotonic()
            for k in range(4):
                members[2].send(b"hello %d\n" % k)
            for k in range(4):
                self.expect(members[1], members[2].name + b" hello %d\n" % k)
            took = time.monotonic() - t0
            self.assertLess(took, 4.0, "four short lines took %.1f s: senders were paused "
                            "for a budget nobody was using" % took)
            self.stopped_cleanly(srv)


    def each_partial_line_times_out(self, model):
        """chat reads lines, so a partial line is bounded like a frame: --frame-timeout
        applies without --frame (default 30 s), and a member that began a line and went
        quiet is closed with the reason; the others stay"""
        with chat(model, "--frame-timeout", "0.5") as srv:
            a, b = self.join(2, lambda: self.tcp_member(srv))
            a.send(b"never ends")
            data, how = a.read_to_end(timeout=T)
            self.assertIn(how, ("eof", "reset"), data)
            srv.wait_log(r"^Closed %s: .*frame not completed in time" % re.escape(addr_text(a)))
            self.expect(b, b"* " + a.name + b" left (1 online)\n")
            self.stopped_cleanly(srv)


@each_model_in("loop", "thread")
class ChatEscapes(ChatCase):
    def each_hostile_name_and_line(self, model):
        """a Unix member whose bound name holds a CR and ESC [2J, and whose line holds a CR
        mid-line (which would return the cursor and print over the tag): the others get
        the name and the line with those bytes spelled out, the tag intact"""
        d = tempfile.mkdtemp(prefix="sockit-chat-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "c.sock")
        def plain_member():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socks.append(s)
            s.settimeout(T)
            s.connect(path)
            return Member(s, b"[unix:" + path.encode() + b"]")

        with chat(model, addr="unix:" + path) as srv:
            a, b = self.join(2, plain_member)
            evil = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socks.append(evil)
            evil.settimeout(T)
            evil.bind(b"\0x\r[127.0.0.1:1] fake\x1b[2J")
            evil.connect(path)
            name = b"[unix:@x\\r[127.0.0.1:1] fake\\x1b[2J]"
            evil.sendall(b"[127.0.0.1:1] says\rhi \xc3\xa9\n")
            for m in (a, b):
                self.expect(m, b"* " + name + b" joined (3 online)\n" +
                            name + b" [127.0.0.1:1] says\\rhi \xc3\xa9\n")
            self.assertQuiet([a, b])
            self.stopped_cleanly(srv)


class ChatRefusals(Case):
    def refused(self, *args):
        r = run([SOCKIT, "serve", "chat", "-l", "127.0.0.1:0"] + list(args), timeout=5)
        self.assertEqual(r.returncode, 2, "exit status of chat %s; stderr %r" % (args, r.stderr))
        return r.stderr.decode()

    def test_fork_and_iterative_refused(self):
        """chat under --model fork or iterative: exit 2, 'use --model loop or thread'"""
        for model in ("fork", "iterative"):
            err = self.refused("--model", model)
            self.assertIn("use --model loop or thread", err, model)

    def test_frames_other_than_lines_refused(self):
        """chat with --frame len32 (or fixed:8, eof, len16, raw): exit 2"""
        for frame in ("len32", "len16", "fixed:8", "eof", "raw"):
            err = self.refused("--frame", frame)
            self.assertIn("chat", err, frame)


if __name__ == "__main__":
    sktest.main()
