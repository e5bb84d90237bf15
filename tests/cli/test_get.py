"""sockit get: the seed's browser as a command. Against `python3 -m http.server` (small and
20 MiB files byte-exact, 404, a redirect, -i, -v, percent-encoding, IPv6, a closed stdout)
and against scripted Python servers for everything http.server never sends: chunked
bodies cut every way, broken framing, interim replies, oversized heads, silence. Usage
errors last. All traffic stays on loopback; every wait has a deadline."""
import hashlib
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import sktest
from sktest import SOCKIT, Case, random_bytes, run

TIMEOUT = sktest.DEFAULT_TIMEOUT
BIG = 20 << 20  # the large file: 20 MiB
HEADERS_MAX = 65536

_SERVING_RE = re.compile(rb"Serving HTTP on \S+ port (\d+)")


def sockit_get(*args, timeout=TIMEOUT):
    """Run `sockit get ARGS`; returns (CompletedProcess, seconds taken)."""
    t0 = time.monotonic()
    p = run([SOCKIT, "get"] + [str(a) for a in args], timeout=timeout)
    return p, time.monotonic() - t0


def ipv6_loopback():
    """True when ::1 can be bound here."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class HttpServer:
    """`python3 -m http.server 0` on a loopback address serving `directory`; the port is
    read from its "Serving HTTP on ADDR port N" line."""

    def __init__(self, directory, bind="127.0.0.1"):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", bind,
             "--directory", directory],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        buf = b""
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if r else b""
            if not chunk:
                self.stop()
                raise AssertionError("http.server did not announce its port: %r" % buf)
            buf += chunk
        m = _SERVING_RE.search(buf)
        if not m:
            self.stop()
            raise AssertionError("unexpected http.server banner %r" % buf)
        self.port = int(m.group(1))
        host = "[%s]" % bind if ":" in bind else bind
        self.base = "http://%s:%d" % (host, self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


class HttpServerTests(Case):
    """sockit get against Python's own http.server."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sockit-get-")
        cls.small = random_bytes(4000, seed=2)
        cls.big = random_bytes(BIG, seed=20)
        cls.files = {"small.bin": cls.small, "big.bin": cls.big,
                     "a file.txt": b"spaces are fine\n", "\u00fcber.txt": b"non-ASCII name\n",
                     "dir/inner.txt": b"inside\n"}
        for name, data in cls.files.items():
            path = os.path.join(cls.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        cls.srv = HttpServer(cls.dir)
        cls.base = cls.srv.base

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_small_file(self):
        """a 4000-byte random file arrives byte-exact on stdout, exit 0, stderr quiet"""
        p, _ = sockit_get(self.base + "/small.bin")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertSameBytes(p.stdout, self.small, "small file")

    def test_large_file(self):
        """a 20 MiB random file arrives byte-exact (sha256 compared)"""
        p, _ = sockit_get(self.base + "/big.bin", timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertEqual(len(p.stdout), BIG)
        self.assertEqual(hashlib.sha256(p.stdout).hexdigest(),
                         hashlib.sha256(self.big).hexdigest(),
                         "first difference at %s" % sktest.first_difference(p.stdout, self.big))

    def test_not_found(self):
        """404: exit 1, the status line on stderr, nothing on stdout"""
        p, _ = sockit_get(self.base + "/no-such-file")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: HTTP/1.0 404 File not found\n")

    def test_not_found_include(self):
        """404 with -i: exit 1, the headers and the error page on stdout"""
        p, _ = sockit_get("-i", self.base + "/no-such-file")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith(b"HTTP/1.0 404 File not found\r\n"), p.stdout[:80])
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1))
        self.assertEqual(len(body), length)
        self.assertIn(b"404", body)
        self.assertEqual(p.stderr, b"sockit: HTTP/1.0 404 File not found\n")

    def test_redirect_not_followed(self):
        """a directory without its slash: the 301 and its Location are reported, not
        followed; exit 1, empty stdout"""
        p, _ = sockit_get(self.base + "/dir")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: HTTP/1.0 301 Moved Permanently: "
                                   b"redirected to /dir/ (not followed)\n")

    def test_directory_listing(self):
        """the directory with its slash: http.server's listing, naming the file inside"""
        p, _ = sockit_get(self.base + "/dir/")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertIn(b"inner.txt", p.stdout)

    def test_include(self):
        """-i: the status line and headers with their CRLFs, a blank line, then the body"""
        p, _ = sockit_get("-i", self.base + "/small.bin")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertTrue(p.stdout.startswith(b"HTTP/1."), p.stdout[:40])
        head, sep, body = p.stdout.partition(b"\r\n\r\n")
        self.assertEqual(sep, b"\r\n\r\n")
        self.assertRegex(head, rb"(?im)^Content-Length: 4000\r?$")
        for line in head.split(b"\r\n"):
            self.assertNotIn(b"\n", line)
        self.assertSameBytes(body, self.small, "body after the headers")

    def test_verbose(self):
        """-v: Connected to ADDR, the request ('> ') and the reply head ('< ') on stderr;
        stdout has the body only"""
        p, _ = sockit_get("-v", self.base + "/small.bin")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, self.small)
        err = p.stderr.decode()
        self.assertIn("Connected to 127.0.0.1:%d\n" % self.srv.port, err)
        self.assertIn("> GET /small.bin HTTP/1.1\n", err)
        self.assertIn("> Host: 127.0.0.1:%d\n" % self.srv.port, err)
        self.assertIn("> Connection: close\n", err)
        self.assertIn("< HTTP/1.0 200 OK\n", err)
        self.assertIn("< Content-Length: 4000\n", err)
        self.assertNotIn("\r", err)

    def test_space_percent_encoded(self):
        """a space in the path goes out as %20 and the file is found"""
        p, _ = sockit_get("-v", self.base + "/a file.txt")
        self.assertEqual((p.returncode, p.stdout), (0, b"spaces are fine\n"), p.stderr)
        self.assertIn(b"> GET /a%20file.txt HTTP/1.1\n", p.stderr)

    def test_non_ascii_percent_encoded(self):
        """non-ASCII bytes in the path go out as %XX (UTF-8) and the file is found; an
        existing %XX escape is kept as written"""
        p, _ = sockit_get("-v", self.base + "/\u00fcber.txt")
        self.assertEqual((p.returncode, p.stdout), (0, b"non-ASCII name\n"), p.stderr)
        self.assertIn(b"> GET /%C3%BCber.txt HTTP/1.1\n", p.stderr)
        p, _ = sockit_get(self.base + "/%C3%BCber.txt")
        self.assertEqual((p.returncode, p.stdout), (0, b"non-ASCII name\n"), p.stderr)

    def test_query_and_fragment(self):
        """the query is sent, the fragment is not"""
        p, _ = sockit_get("-v", self.base + "/small.bin?x=1&y=two#part")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, self.small)
        self.assertIn(b"> GET /small.bin?x=1&y=two HTTP/1.1\n", p.stderr)

    def test_closed_stdout(self):
        """sockit get BIG | head -c 10: head gets its 10 bytes, sockit exits 1 at once and
        quietly, as a program killed by SIGPIPE would"""
        t0 = time.monotonic()
        get = subprocess.Popen([SOCKIT, "get", self.base + "/big.bin"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.Popen(["head", "-c", "10"], stdin=get.stdout, stdout=subprocess.PIPE)
        get.stdout.close()  # head holds the only reading end
        try:
            out, _ = head.communicate(timeout=TIMEOUT)
            err = get.stderr.read()
            rc = get.wait(TIMEOUT)
        finally:
            for proc in (get, head):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)
            get.stderr.close()
        took = time.monotonic() - t0
        self.assertEqual(out, self.big[:10])
        self.assertEqual((rc, err), (1, b""))
        self.assertLess(took, 5.0, "took %.2fs" % took)

    def test_ipv6(self):
        """http://[::1]:PORT/ against http.server --bind ::1; Host keeps the brackets"""
        if not ipv6_loopback():
            self.skipTest("no IPv6 loopback here")
        srv = HttpServer(self.dir, bind="::1")
        try:
            p, _ = sockit_get("-v", srv.base + "/small.bin")
        finally:
            srv.stop()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, self.small)
        self.assertIn(b"Connected to [::1]:%d\n" % srv.port, p.stderr)
        self.assertIn(b"> Host: [::1]:%d\n" % srv.port, p.stderr)


def read_request(conn, limit=65536):
    """Read a request head (through its blank line) from conn; returns the bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise AssertionError("client closed before the end of its request: %r" % data)
        data += chunk
        if len(data) > limit:
            raise AssertionError("request head over %d bytes" % limit)
    return data


def send_bytewise(conn, data):
    """Send data one byte per send() (TCP_NODELAY), so the reply is cut everywhere."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Head lines of http.server that change with the clock or the Python version.
_VARYING = ("< Date:", "< Last-Modified:", "< Server:")


class ReadmeTourTests(Case):
    """The README's web examples run as written, in an empty directory (issue 12: they
    needed a www/hello.txt nobody created). Each code block that starts http.server is
    replayed: its mkdir/echo lines in a fresh directory, the server on a free port in
    place of 8000, and every `sockit get` line compared with the lines shown under it
    (stdout and stderr together; Date, Last-Modified and Server skipped)."""

    def blocks(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            text = f.read()
        blocks, cur = [], []
        for line in text.splitlines() + [""]:
            if line.startswith("    "):
                cur.append(line[4:])
            elif line.strip() == "" and cur:
                cur.append("")
            else:
                if any("-m http.server" in l for l in cur):
                    blocks.append(cur)
                cur = []
        return blocks

    def replay(self, block, tmp):
        import shlex
        srv, checked, i = None, 0, 0
        try:
            while i < len(block):
                line = block[i]
                i += 1
                if not line.startswith("$ "):
                    continue
                cmd = line[2:]
                want = []
                while i < len(block) and not block[i].startswith("$ "):
                    if block[i]:
                        want.append(block[i].rstrip())
                    i += 1
                if cmd.startswith(("mkdir ", "echo ")):
                    r = run(["sh", "-c", cmd], cwd=tmp)
                    self.assertEqual(r.returncode, 0, (cmd, r.stderr))
                elif "-m http.server" in cmd:
                    args = shlex.split(cmd.rstrip("& "))
                    d = args[args.index("-d") + 1] if "-d" in args else "."
                    srv = HttpServer(os.path.join(tmp, d))
                elif cmd.startswith("sockit get "):
                    self.assertIsNotNone(srv, "sockit get before http.server: %s" % cmd)
                    argv = [a.replace(":8000", ":%d" % srv.port) for a in shlex.split(cmd)]
                    r = subprocess.run([SOCKIT] + argv[1:], stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, timeout=TIMEOUT)
                    got = [l.rstrip().replace(":%d" % srv.port, ":8000")
                           for l in r.stdout.decode().splitlines()]
                    keep = lambda lines: [l for l in lines if not l.startswith(_VARYING)]
                    self.assertEqual(keep(got), keep(want), cmd)
                    checked += 1
        finally:
            if srv:
                srv.stop()
        return checked

    def test_web_examples_run_as_written(self):
        blocks = self.blocks()
        self.assertGreaterEqual(len(blocks), 2, "the tour's and get's web examples")
        for n, block in enumerate(blocks):
            with self.subTest(block=n):
                tmp = tempfile.mkdtemp(prefix="sockit-readme-")
                try:
                    self.assertGreater(self.replay(block, tmp), 0, block)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)


class ScriptServer:
    """One client on a loopback port: read its request head, then reply(conn) sends
    whatever the test wants; then close (unless reply waits for the client itself).
    The request is kept in .request; errors in the server thread in .errors."""

    def __init__(self, reply, family=socket.AF_INET, host="127.0.0.1", port=0):
        self.reply = reply
        self.request = None
        self.errors = []
        self.lsock = socket.socket(family)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(4)
        self.lsock.settimeout(TIMEOUT)
        self.port = self.lsock.getsockname()[1]
        self.base = "http://%s:%d" % (host, self.port)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            conn, _ = self.lsock.accept()
            conn.settimeout(TIMEOUT)
            with conn:
                self.request = read_request(conn)
                if isinstance(self.reply, bytes):
                    conn.sendall(self.reply)
                else:
                    self.reply(conn)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as some tests want
        except Exception as e:  # reported by the test through .errors
            self.errors.append(e)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(TIMEOUT + 5)
        self.lsock.close()
        return False


def chunked(body, sizes):
    """body as a chunked message: chunks of the given sizes (cycled), a 0 chunk, and an
    empty trailer section."""
    out, i, k = b"", 0, 0
    while i < len(body):
        piece = body[i:i + sizes[k % len(sizes)]]
        k += 1
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        i += len(piece)
    return out + b"0\r\n\r\n"


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class ScriptedTests(Case):
    """Replies written by hand, one behaviour each."""

    def get(self, reply, *args, url_path="/x", timeout=TIMEOUT):
        """Serve `reply` (bytes, or a function of the connection) to one sockit get;
        returns (CompletedProcess, server, seconds)."""
        with ScriptServer(reply) as srv:
            p, took = sockit_get(*(list(args) + [srv.base + url_path]), timeout=timeout)
        self.assertEqual(srv.errors, [])
        return p, srv, took

    def assertFails(self, p, message):
        """exit 1, nothing on stdout, and `message` (bytes) in the one-line error"""
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(message, p.stderr)
        self.assertTrue(p.stderr.startswith(b"sockit: "), p.stderr)
        self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)

    # ---- the request ----

    def test_request(self):
        """the request: GET TARGET HTTP/1.1, Host with the port, User-Agent, Accept,
        Connection: close, in that order, CRLF everywhere"""
        p, srv, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                             url_path="/some/path?q=1")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"ok", b""))
        self.assertEqual(srv.request,
                         b"GET /some/path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         b"User-Agent: sockit/0.1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                         % srv.port)

    def test_request_empty_path(self):
        """http://HOST:PORT with no path asks for /; ?q alone becomes /?q"""
        for url_path, target in (("", b"/"), ("?q=1", b"/?q=1"), ("#frag", b"/")):
            with self.subTest(url_path=url_path):
                p, srv, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                                     url_path=url_path)
                self.assertEqual((p.returncode, p.stderr), (0, b""))
                self.assertTrue(srv.request.startswith(b"GET %s HTTP/1.1\r\n" % target),
                                srv.request)

    def test_request_target_encoding(self):
        """bytes a request target may not hold are %XX; a stray '%' becomes %25; valid
        escapes and sub-delims stay"""
        p, srv, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                             url_path="/a b\t<c>\"d\"/%41%zz%?x=y z&k=[1]")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(srv.request.startswith(
            b"GET /a%20b%09%3Cc%3E%22d%22/%41%25zz%25?x=y%20z&k=%5B1%5D HTTP/1.1\r\n"),
            srv.request)

    def test_host_header_port_80(self):
        """on port 80, written or not, the Host header has no port (skipped where port 80
        cannot be bound)"""
        for url in ("http://127.0.0.1/", "http://127.0.0.1:80/"):
            with self.subTest(url=url):
                try:
                    srv = ScriptServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", port=80)
                except OSError as e:
                    self.skipTest("cannot listen on 127.0.0.1:80 here: %s" % e)
                with srv:
                    p, _ = sockit_get(url)
                self.assertEqual((p.returncode, p.stderr, srv.errors), (0, b"", []))
                self.assertIn(b"\r\nHost: 127.0.0.1\r\n", srv.request)

    # ---- chunked bodies ----

    def test_chunked(self):
        """several chunks, one with extensions, trailers after the 0 chunk: the body alone
        reaches stdout"""
        reply = (CHUNKED_HEAD + b"5\r\nhello\r\n1;name=value;flag\r\n,\r\n"
                 b"6 ; ext=\"q\"\r\n world\r\nA\r\n0123456789\r\n"
                 b"0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n")
        p, _, _ = self.get(reply)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello, world0123456789", b""))

    def test_chunked_bytewise(self):
        """a chunked reply sent one byte per write: sizes, CRLFs and data all cut"""
        body = random_bytes(3000, seed=3)
        p, _, _ = self.get(lambda c: send_bytewise(c, CHUNKED_HEAD + chunked(body, [1, 7, 300])))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, body)

    def test_chunked_split_boundaries(self):
        """each write ends inside a chunk-size line, between CR and LF, or mid-data"""
        pieces = [CHUNKED_HEAD + b"1", b"0\r", b"\nabcdefgh", b"ijklmnop\r", b"\n3;e",
                  b"xt\r\nxyz", b"\r\n0\r\nT: 1", b"\r\n\r", b"\n"]

        def reply(conn):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in pieces:
                conn.sendall(piece)
                time.sleep(0.01)  # no readiness signal for "the client has read it"

        p, _, _ = self.get(reply)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"abcdefghijklmnopxyz", b""))

    def test_chunked_large(self):
        """4 MiB in chunks bigger and smaller than sockit's 64 KiB buffer, byte-exact"""
        body = random_bytes(4 << 20, seed=4)
        p, _, _ = self.get(CHUNKED_HEAD + chunked(body, [100000, 1, 65536, 65535, 3 << 20]),
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, body)

    def test_chunked_overrides_content_length(self):
        """Transfer-Encoding: chunked wins over a Content-Length (RFC 9112 6.3)"""
        reply = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: Chunked"
                 b"\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
        p, _, _ = self.get(reply)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"abcd", b""))

    # ---- transfer codings other than chunked (issue 12) ----

    def test_unsupported_transfer_coding(self):
        """a transfer coding sockit does not decode is an error (exit 1, nothing on stdout),
        never the still-encoded body with exit 0; with or without Content-Length (which a
        Transfer-Encoding always overrides, RFC 9112 6.3 rule 3), in one header or two, and
        'chunked, gzip' (chunked not last: the body would run to the close) as well"""
        chunks = b"4\r\nabcd\r\n0\r\n\r\n"
        cases = ((b"Transfer-Encoding: gzip, chunked\r\n", chunks, b"gzip"),
                 (b"Transfer-Encoding: GZIP\r\n", b"\x1f\x8b\x08\x00", b"GZIP"),
                 (b"Transfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n", b"abcdef",
                  b"gzip"),
                 (b"Content-Length: 3\r\nTransfer-Encoding: chunked, gzip\r\n", b"abcdef",
                  b"gzip"),
                 (b"Transfer-Encoding: x-custom;q=1\r\nTransfer-Encoding: chunked\r\n", chunks,
                  b"x-custom;q=1"),
                 (b"Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n", chunks,
                  b"deflate"),
                 (b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n", b"abc",
                  b"identity"))
        for head, body, coding in cases:
            with self.subTest(head=head):
                p, srv, _ = self.get(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n" + body)
                self.assertEqual(p.stdout, b"")
                self.assertFails(p, b"sockit: unsupported transfer coding '%s' in the reply "
                                    b"from 127.0.0.1:%d (sockit get decodes only chunked)\n"
                                 % (coding, srv.port))

    def test_unsupported_transfer_coding_include(self):
        """-i writes the head as received, then fails on the coding: no body bytes"""
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        p, _, _ = self.get(head + b"4\r\nabcd\r\n0\r\n\r\n", "-i")
        self.assertEqual(p.stdout, head)
        self.assertFails(p, b"unsupported transfer coding 'gzip'")

    def test_unsupported_transfer_coding_of_an_error_status(self):
        """a 404 whose body is gzip-coded is reported as the 404 (its body is discarded
        anyway)"""
        p, _, _ = self.get(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip\r\n\r\nxx")
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (1, b"", b"sockit: HTTP/1.1 404 Not Found\n"))

    def test_transfer_coding_escaped_in_the_message(self):
        """the coding named in the error is the server's text: control bytes escaped, cut
        at 64 bytes"""
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: a\x9bb\r\n\r\nx")
        self.assertFails(p, b"unsupported transfer coding 'a\\x9bb'")
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + b"z" * 100 + b"\r\n\r\nx")
        self.assertFails(p, b"unsupported transfer coding '" + b"z" * 64 + b"...'")

    def test_chunked_twice_or_empty_transfer_encoding(self):
        """chunked applied twice, or a Transfer-Encoding with no coding at all, is a
        malformed reply, not a body framed by Content-Length"""
        for head, message in ((b"Transfer-Encoding: chunked, chunked\r\n",
                               b"chunked applied more than once"),
                              (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                               b"chunked applied more than once"),
                              (b"Transfer-Encoding:\r\nContent-Length: 3\r\n",
                               b"empty Transfer-Encoding"),
                              (b"Transfer-Encoding: , ,\r\n", b"empty Transfer-Encoding")):
            with self.subTest(head=head):
                p, _, _ = self.get(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n3\r\nabc\r\n0\r\n\r\n")
                self.assertEqual(p.stdout, b"")
                self.assertFails(p, b"malformed reply from 127.0.0.1:")
                self.assertIn(message, p.stderr)

    def test_chunked_with_empty_list_elements(self):
        """empty list elements are not codings (RFC 9110 5.6.1): ', chunked,' is chunked"""
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked,\r\n\r\n"
                           b"3\r\nabc\r\n0\r\n\r\n")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"abc", b""))

    # ---- what the server chose, shown to a person (issue 12) ----

    def test_verbose_escapes_the_head(self):
        """-v shows the head on stderr with the server's control bytes escaped (a raw CSI
        0x9b, or a C1 control in UTF-8, never reaches the terminal; C0 controls other than
        TAB are refused as malformed anyway); valid UTF-8 is shown as is; stdout keeps the
        body byte-exact"""
        reply = (b"HTTP/1.1 200 \xc3\x9cber\xc2\x9b2J\r\nX-Evil: a\x9b2Jb\x9b[31mred\r\n"
                 b"X-Utf8: caf\xc3\xa9\r\nX-Tab:\tx\r\nContent-Length: 2\r\n\r\nok")
        p, _, _ = self.get(reply, "-v")
        self.assertEqual((p.returncode, p.stdout), (0, b"ok"), p.stderr)
        self.assertIn(b"< HTTP/1.1 200 \xc3\x9cber\\xc2\\x9b2J\n", p.stderr)
        self.assertIn(b"< X-Evil: a\\x9b2Jb\\x9b[31mred\n", p.stderr)
        self.assertIn(b"< X-Utf8: caf\xc3\xa9\n", p.stderr)
        self.assertIn(b"< X-Tab:\\tx\n", p.stderr)
        for raw in (b"\x9b", b"\xc2\x9b", b"\r", b"\t"):
            self.assertNotIn(raw, p.stderr)

    def test_include_is_raw(self):
        """-i writes the head to stdout as data, byte for byte (as curl -i): nothing
        escaped there"""
        reply = (b"HTTP/1.1 200 OK\r\nX-Evil: a\x9b2Jb\xc2\x9b[31m\tz\xff\r\nContent-Length: 2\r\n"
                 b"\r\nok")
        p, _, _ = self.get(reply, "-i")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, reply, b""))

    def test_status_and_location_escaped(self):
        """a non-2xx status line and a redirect's Location are escaped by the same rule:
        C1 and C0 bytes spelled out, UTF-8 kept"""
        p, _, _ = self.get(b"HTTP/1.1 302 F\xc2\x9bound\r\nLocation: /a\x9bb/\xc3\xa9\r\n"
                           b"Content-Length: 0\r\n\r\n")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: HTTP/1.1 302 F\\xc2\\x9bound: redirected to "
                                   b"/a\\x9bb/\xc3\xa9 (not followed)\n")
        p, _, _ = self.get(b"HTTP/1.1 500 Bad \x9b\xff\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(p.stderr, b"sockit: HTTP/1.1 500 Bad \\x9b\\xff\n")

    def test_chunked_huge_size(self):
        """chunk sizes that overflow 64 bits, or pass 2^62, are refused before any use"""
        for size in (b"ffffffffffffffffffffffff", b"10000000000000000", b"4000000000000001"):
            with self.subTest(size=size):
                p, _, took = self.get(CHUNKED_HEAD + size + b"\r\nabc")
                self.assertFails(p, b"chunk size '%s' too large" % size)
                self.assertLess(took, 5.0)

    def test_chunked_big_size_then_close(self):
        """a large but legal chunk size (2^62) followed by a close: a clean error, no
        attempt to allocate it"""
        p, _, _ = self.get(CHUNKED_HEAD + b"4000000000000000\r\nabc")
        self.assertEqual(p.stdout, b"abc")
        self.assertFails(p, b"connection closed before the last chunk (after 3 body bytes)")

    def test_chunked_bad_terminator(self):
        """chunk data not followed by CRLF is a protocol error"""
        p, _, _ = self.get(CHUNKED_HEAD + b"5\r\nhelloXX\r\n0\r\n\r\n")
        self.assertFails(p, b"malformed reply from 127.0.0.1:")
        self.assertIn(b"chunk data not followed by CRLF", p.stderr)

    def test_chunked_bad_size_line(self):
        """a chunk-size line that is not hex, empty, or junk after the digits"""
        for line in (b"zz", b"", b"5 x", b"-5", b" 5"):
            with self.subTest(line=line):
                p, _, _ = self.get(CHUNKED_HEAD + line + b"\r\nhello\r\n0\r\n\r\n")
                self.assertFails(p, b"bad chunk size line")

    def test_chunked_closed_early(self):
        """the stream ends inside a chunk, after a chunk, or before the trailers end"""
        cases = ((b"5\r\nhel", b"connection closed before the last chunk (after 3 body bytes)"),
                 (b"5\r\nhello\r\n", b"connection closed before the last chunk (after 5"),
                 (b"5\r\nhello\r\n0\r\nX: 1\r\n", b"connection closed in the trailers"))
        for tail, message in cases:
            with self.subTest(tail=tail):
                p, _, _ = self.get(CHUNKED_HEAD + tail)
                self.assertFails(p, message)

    def test_chunked_trailers_too_big(self):
        """trailers count against the 64 KiB head limit"""
        trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 1000) for i in range(70))
        p, _, _ = self.get(CHUNKED_HEAD + b"2\r\nok\r\n0\r\n" + trailers + b"\r\n")
        self.assertFails(p, b"sockit: response headers exceed 65536 bytes")

    # ---- other framings ----

    def test_content_length_exact(self):
        """exactly Content-Length bytes are written even if more follow"""
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello", b""))

    def test_content_length_no_close(self):
        """with Content-Length satisfied, sockit finishes without waiting for the close"""
        def reply(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            conn.recv(1)  # wait for sockit to hang up

        p, _, took = self.get(reply, "-w", "5")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"hello", b""))
        self.assertLess(took, 3.0)

    def test_content_length_early_close(self):
        """the server closes before Content-Length bytes: exit 1 with both counts"""
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        self.assertEqual(p.stdout, b"hello")
        self.assertFails(p, b"sockit: connection closed after 5 of 10 body bytes\n")

    def test_content_length_duplicates(self):
        """equal duplicates (two headers, or a list) are one length; different ones are an
        error"""
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n"
                           b"\r\nabcdef")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"abc", b""))
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
                           b"\r\nabcdef")
        self.assertFails(p, b"conflicting Content-Length values 3 and 4")

    def test_content_length_invalid(self):
        """a Content-Length that is not plain digits, or too big, is an error"""
        for value in (b"5x", b"-1", b"+5", b"", b"0x10", b"5 5", b"99999999999999999999999"):
            with self.subTest(value=value):
                p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nhello" % value)
                self.assertFails(p, b"bad Content-Length")

    def test_read_to_eof(self):
        """no length and no chunking: the body is everything until the server closes"""
        body = random_bytes(300000, seed=5)
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\n" + body)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertSameBytes(p.stdout, body)

    def test_http10_reply(self):
        """an HTTP/1.0 reply, header names in any case, bare-LF line ends tolerated"""
        p, _, _ = self.get(b"HTTP/1.0 200 OK\ncontent-LENGTH: 4\n\nbody")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"body", b""))

    def test_continue_then_ok(self):
        """100 Continue (and a 103) before the 200 are skipped; -v shows them"""
        reply = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                 b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        p, _, _ = self.get(reply, "-v")
        self.assertEqual((p.returncode, p.stdout), (0, b"hi"), p.stderr)
        self.assertIn(b"< HTTP/1.1 100 Continue\n", p.stderr)
        self.assertIn(b"< HTTP/1.1 200 OK\n", p.stderr)

    def test_no_content(self):
        """204 has no body: sockit ends at the blank line without waiting for a close, and
        ignores bytes after it"""
        def reply(conn):
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nJUNK!")
            conn.recv(1)  # wait for sockit to hang up

        p, _, took = self.get(reply, "-w", "5")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))
        self.assertLess(took, 3.0)

    # ---- statuses ----

    def test_server_error(self):
        """500 with a body: the status line on stderr, the body discarded, exit 1"""
        p, _, _ = self.get(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: HTTP/1.1 500 Internal Server Error\n")

    def test_redirect_with_and_without_location(self):
        """302 with a Location names it; a 3xx without one is reported plainly; -i still
        writes the head and body"""
        p, _, _ = self.get(b"HTTP/1.1 302 Found\r\nLocation: http://example.test/new\r\n"
                           b"Content-Length: 3\r\n\r\nabc")
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: HTTP/1.1 302 Found: redirected to "
                                   b"http://example.test/new (not followed)\n")
        p, _, _ = self.get(b"HTTP/1.1 300 Multiple Choices\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(p.stderr, b"sockit: HTTP/1.1 300 Multiple Choices (not followed)\n")
        reply = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nContent-Length: 3\r\n\r\nabc"
        p, _, _ = self.get(reply, "-i")
        self.assertEqual((p.returncode, p.stdout), (1, reply))

    # ---- broken replies ----

    def test_headers_too_big(self):
        """a head over 64 KiB is refused; one just under it is fine"""
        def head_of(size):
            line = b"X-Pad: " + b"p" * 1000 + b"\r\n"
            start = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
            pad = size - len(start) - 2
            lines = line * (pad // len(line))
            rest = pad - len(lines)
            if rest:
                lines += b"X-Last: " + b"q" * (rest - 10) + b"\r\n"
            return start + lines + b"\r\n"

        under = head_of(HEADERS_MAX)
        self.assertEqual(len(under), HEADERS_MAX)
        p, _, _ = self.get(under + b"ok")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"ok", b""))
        p, _, _ = self.get(head_of(HEADERS_MAX + 1) + b"ok")
        self.assertFails(p, b"sockit: response headers exceed 65536 bytes\n")
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200000)  # no line end
        self.assertFails(p, b"sockit: response headers exceed 65536 bytes\n")

    def test_endless_interim_replies(self):
        """100 Continue forever counts against the head limit"""
        def reply(conn):
            for _ in range(5000):
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        p, _, _ = self.get(reply)
        self.assertFails(p, b"sockit: response headers exceed 65536 bytes\n")

    def test_malformed_status_line(self):
        """replies that are not HTTP/1.x status lines"""
        for line in (b"HTTX/1.1 200 OK", b"HTTP/1.1 2000 OK", b"HTTP/1.1 20 OK",
                     b"SSH-2.0-OpenSSH_9.2", b"HTTP/1.1  200 OK", b"HTTP/1.1 600 Odd",
                     b"HTTP/1.1 200 O\x01K"):
            with self.subTest(line=line):
                p, _, _ = self.get(line + b"\r\nContent-Length: 0\r\n\r\n")
                self.assertFails(p, b"malformed reply from 127.0.0.1:")
                self.assertIn(b"bad status line", p.stderr)
        p, _, _ = self.get(b"HTTP/2 200\r\n\r\n")
        self.assertFails(p, b"unsupported HTTP version in 'HTTP/2 200'")

    def test_malformed_header_line(self):
        """a header line without a name and colon, or with space before the colon"""
        for line in (b"NoColonHere", b"Bad Name: x", b": empty", b" folded"):
            with self.subTest(line=line):
                p, _, _ = self.get(b"HTTP/1.1 200 OK\r\n" + line + b"\r\n\r\nbody")
                self.assertFails(p, b"bad header line")

    def test_empty_and_truncated_replies(self):
        """a server that closes at once, or inside the head"""
        p, _, _ = self.get(b"")
        self.assertFails(p, b"sockit: empty reply from 127.0.0.1:")
        p, _, _ = self.get(b"HTTP/1.1 200 OK\r\nContent-Le")
        self.assertFails(p, b"connection closed in the headers")

    def test_timeout(self):
        """a server that never answers: -w 0.5 gives up in bounded time"""
        def reply(conn):
            conn.recv(1)  # until sockit hangs up

        p, _, took = self.get(reply, "-w", "0.5")
        self.assertFails(p, b"timed out (no data for 0.5 s)")
        self.assertGreater(took, 0.4)
        self.assertLess(took, 3.0)

    def test_timeout_mid_body(self):
        """-w bounds each wait for data, also in the middle of the body"""
        def reply(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
            conn.recv(1)

        p, _, took = self.get(reply, "-w", "0.5")
        self.assertEqual(p.stdout, b"hello")
        self.assertFails(p, b"timed out")
        self.assertLess(took, 3.0)

    def test_connection_refused(self):
        """nothing listening: sockit: connect ADDR: Connection refused, exit 1"""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        p, _ = sockit_get("http://127.0.0.1:%d/" % port)
        self.assertEqual((p.returncode, p.stdout), (1, b""))
        self.assertEqual(p.stderr, b"sockit: connect 127.0.0.1:%d: Connection refused\n" % port)


class UsageTests(Case):
    """Bad command lines and URLs: exit 2 and a precise message, nothing sent."""

    def usage(self, args, message):
        p, _ = sockit_get(*args)
        self.assertEqual((p.returncode, p.stdout), (2, b""), p.stderr)
        self.assertIn(message, p.stderr)
        return p

    def test_missing_url(self):
        p = self.usage([], b"sockit: missing URL\n")
        self.assertIn(b"Usage: sockit get [-i] [-v] [-w SEC] URL", p.stderr)

    def test_extra_argument(self):
        self.usage(["http://127.0.0.1/", "more"], b"sockit: unexpected argument 'more'")

    def test_https(self):
        self.usage(["https://127.0.0.1/"], b"sockit: https is not supported: sockit get "
                                           b"speaks plain http:// only\n")

    def test_other_schemes(self):
        for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/"):
            with self.subTest(url=url):
                scheme = url.split(":")[0].encode()
                self.usage([url], b"unsupported scheme '%s'" % scheme)

    def test_bad_ports(self):
        for port in ("99999", "0", "abc", "80x", "-1", "123456"):
            with self.subTest(port=port):
                self.usage(["http://127.0.0.1:%s/" % port], b"invalid port '%s'" % port.encode())

    def test_userinfo(self):
        for url in ("http://user@127.0.0.1/", "http://user:pw@127.0.0.1:80/x"):
            with self.subTest(url=url):
                self.usage([url], b"user info (USER@HOST) is not supported")

    def test_malformed_urls(self):
        cases = (("127.0.0.1/x", b"invalid URL '127.0.0.1/x': expected http://HOST[:PORT]/PATH"),
                 ("http:/x", b"expected http://HOST[:PORT]/PATH"),
                 ("http://", b"missing host"),
                 ("http://:8000/", b"missing host"),
                 ("http://[::1/", b"missing ']'"),
                 ("http://[zz]/", b"invalid IPv6 address 'zz'"),
                 ("http://[::1]x/", b"expected ':PORT' or '/' after ']'"),
                 ("http://a b/", b"invalid host 'a b'"),
                 ("http://::1/", b"an IPv6 address needs brackets: http://[::1]/"),
                 ("http://127.0.0.1/" + "x" * 10000, b"URL too long"))
        for url, message in cases:
            with self.subTest(url=url[:40]):
                self.usage([url], message)

    def test_bad_options(self):
        self.usage(["-x", "http://127.0.0.1/"], b"unknown option '-x'")
        self.usage(["-w"], b"option '-w' needs a value")
        self.usage(["-w", "soon", "http://127.0.0.1/"], b"invalid timeout 'soon'")
        self.usage(["--bogus", "http://127.0.0.1/"], b"unknown option '--bogus'")

    def test_help(self):
        p, _ = sockit_get("--help")
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertIn(b"Usage: sockit get [OPTIONS] URL", p.stdout)
        for opt in (b"--include", b"--verbose", b"--timeout"):
            self.assertIn(opt, p.stdout)


if __name__ == "__main__":
    sktest.main()
