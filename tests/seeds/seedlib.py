"""seedlib: helpers for the tests/seeds tests (Python 3 stdlib only), on top of sktest.

- SEEDS, seed(name, *args): argv that runs one of the seeds' Python programs here
  (python3 -u, so their prints reach a pipe at once).
- example(name): path of a C example (build/examples/NAME); a missing build is a failure.
- LineReader: bounded line reads from a child's pipe (stdout of a server, say).
- Proc: a process that is ready when a line on stdout or stderr matches a regex with a
  (?P<port>...) group (python3 -m http.server, nc -l), stopped with SIGTERM.
- http_server(dir): python3 -m http.server on 127.0.0.1, port parsed from its stdout.
- split_http(reply): (status line, headers dict, body) of a raw HTTP/1.x reply.
- refused_port(): a loopback port that refuses connections, held while in use.
"""
import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

import sktest

SEEDS = os.environ.get("SOCKIT_SEEDS") or os.path.dirname(os.path.abspath(__file__))
TIMEOUT = sktest.DEFAULT_TIMEOUT
GREETING = b"Thank you for connecting"


def seed(name, *args):
    """argv running tests/seeds/NAME with python3 -u."""
    return [sys.executable, "-u", os.path.join(SEEDS, name)] + [str(a) for a in args]


def example(name):
    path = os.path.join(sktest.EXAMPLES, name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built (run make): %s" % (name, path))
    return path


def sockit():
    if not os.access(sktest.SOCKIT, os.X_OK):
        raise AssertionError("sockit is not built (run make): %s" % sktest.SOCKIT)
    return sktest.SOCKIT


class LineReader:
    """Lines from a pipe, each read bounded by a deadline."""

    def __init__(self, f):
        self.fd = f.fileno()
        self.buf = b""
        self.lines = []   # every line read so far (str)
        self.pos = 0      # lines before pos were consumed by next_line()/wait()
        self.eof = False

    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                if self.buf:  # a last line without its newline
                    line, self.buf = self.buf, b""
                    self.lines.append(line.decode(errors="replace"))
                    return self.lines[-1]
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line.decode(errors="replace"))
        return self.lines[-1]

    def next_line(self, timeout=TIMEOUT):
        """The next unconsumed line, or AssertionError after timeout / at EOF."""
        if self.pos == len(self.lines):
            if self._read_line(time.monotonic() + timeout) is None:
                raise AssertionError("no line within %.1fs (eof=%s); lines so far: %r"
                                     % (timeout, self.eof, self.lines))
        self.pos += 1
        return self.lines[self.pos - 1]

    def wait(self, pattern, timeout=TIMEOUT):
        """Consume lines up to the first matching regex `pattern`; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self.pos < len(self.lines):
                self.pos += 1
                m = rx.search(self.lines[self.pos - 1])
                if m:
                    return m
            if self._read_line(deadline) is None:
                raise AssertionError("no line matching %r within %.1fs; lines: %r"
                                     % (pattern, timeout, self.lines))

    def drain(self, timeout=1.0):
        """Read whatever is left until EOF (bounded); return all lines."""
        deadline = time.monotonic() + timeout
        while self._read_line(deadline) is not None:
            pass
        return self.lines


class Proc:
    """A process with stdout (unless given) and stderr on pipes, ready when `ready` (a regex with a
    (?P<port>\\d+) group) matches a line of `stream` ("stdout" or "stderr").

    with Proc(argv, r"port (?P<port>\\d+)", stream="stdout") as p: p.port, p.out, p.err
    """

    def __init__(self, argv, ready, stream="stderr", timeout=TIMEOUT, **popen):
        self.argv, self.ready, self.stream, self.timeout = list(argv), ready, stream, timeout
        self.popen = popen
        self.proc = None
        self.port = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, stdin=self.popen.pop("stdin", subprocess.DEVNULL),
                                     stdout=self.popen.pop("stdout", subprocess.PIPE),
                                     stderr=subprocess.PIPE, **self.popen)
        self.out = LineReader(self.proc.stdout) if self.proc.stdout else None
        self.err = LineReader(self.proc.stderr)
        try:
            m = (self.out if self.stream == "stdout" else self.err).wait(self.ready, self.timeout)
        except AssertionError as e:
            self.kill()
            raise AssertionError("%r not ready: %s; stderr: %r"
                                 % (self.argv, e, self.err.drain()))
        self.port = int(m.group("port"))
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()
        self.close()
        return False

    def wait_exit(self, timeout=TIMEOUT):
        """Wait for the process to exit by itself; return its status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%r did not exit within %.1fs" % (self.argv, timeout))
        if self.out:
            self.out.drain()
        self.err.drain()
        return self.proc.returncode

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def close(self):
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()


class Server(sktest.Server):
    """sktest.Server (ready on "Listening on ADDR" on stderr) that closes its pipes on
    exit; with capture=True its stdout is a pipe too, read line by line through .out."""

    def __init__(self, argv, capture=False, **kw):
        if capture:
            kw["stdout"] = subprocess.PIPE
        super().__init__(argv, **kw)
        self.out = None

    def start(self):
        super().start()
        if self.proc.stdout:
            self.out = LineReader(self.proc.stdout)
        return self

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.kill()
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()

    def wait_exit(self, timeout=TIMEOUT):
        """Wait for the server to exit by itself; return its status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%r did not exit within %.1fs; log: %r"
                                 % (self.argv, timeout, self.log_lines))


def serve(service, model=None, *args, **kw):
    """Server for `sockit serve SERVICE -l 127.0.0.1:0 -v [--model M]`."""
    argv = [sockit(), "serve", service, "-l", kw.pop("addr", "127.0.0.1:0"), "-v"]
    if model:
        argv += ["--model", model]
    return Server(argv + list(args), **kw)


def http_server(directory):
    """python3 -m http.server on 127.0.0.1, port 0, serving `directory`; ready when it
    prints "Serving HTTP on 127.0.0.1 port N" on stdout (unbuffered with -u)."""
    return Proc([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                 "--directory", directory, "0"],
                r"^Serving HTTP on 127\.0\.0\.1 port (?P<port>\d+) ", stream="stdout",
                env=dict(os.environ, PYTHONUNBUFFERED="1"))


def split_http(reply):
    """A raw HTTP/1.x reply -> (status line bytes, {lower-case name: value bytes}, body)."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no end of headers in reply: %r" % reply[:300])
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip()
    return lines[0], headers, body


@contextlib.contextmanager
def refused_port():
    """A 127.0.0.1 port bound but not listening: connect() is refused while it is held."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
    finally:
        s.close()


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 1024, 65535


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def main():
    """sktest.main(): verbose, and the needs() split of tests/CMakeLists.txt."""
    sktest.main()
