"""sktest: what every sockit CLI / interop test shares (Python 3 stdlib only).

- SOCKIT, EXAMPLES: paths of the binaries under test (from the environment ctest sets).
- Server: start a server process, wait (bounded) for "Listening on ADDR" on stderr and
  expose the real address; stop it with SIGTERM and collect its exit status and log.
- run(): run a command with a deadline; connect(): a loopback client socket with a timeout;
  recv_until_eof() / recv_exact(): bounded reads.

Every wait here has a deadline; nothing sleeps where a readiness signal exists.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

SOCKIT = os.environ.get("SOCKIT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "sockit")
EXAMPLES = os.environ.get("SOCKIT_EXAMPLES") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "examples")
MODELS = ("iterative", "thread", "fork")
DEFAULT_TIMEOUT = 10.0

_LISTEN_RE = re.compile(r"Listening on (\S+)")


def parse_addr(text):
    """'127.0.0.1:5000' / '[::1]:5000' -> (host, port)."""
    m = re.fullmatch(r"\[(.*)\]:(\d+)", text) or re.fullmatch(r"([^:]*):(\d+)", text)
    if not m:
        raise ValueError("not an address: %r" % text)
    return m.group(1), int(m.group(2))


class Server:
    """A server process that announces "Listening on ADDR" on stderr.

    with Server([SOCKIT, "serve", "echo", "-l", "127.0.0.1:0", "-v"]) as srv:
        srv.port, srv.host, srv.addrs (every announced address)
    The log (stderr) is read in the background into srv.log_lines.
    """

    def __init__(self, argv, ready_timeout=DEFAULT_TIMEOUT, listeners=1, **popen):
        self.argv = list(argv)
        self.ready_timeout = ready_timeout
        self.listeners = listeners
        self.popen = popen
        self.proc = None
        self.addrs = []
        self.log_lines = []
        self._buf = b""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self.popen.pop("stdout", subprocess.DEVNULL),
            stderr=subprocess.PIPE, **self.popen)
        deadline = time.monotonic() + self.ready_timeout
        while len(self.addrs) < self.listeners:
            line = self.read_log_line(deadline)
            if line is None:
                self.kill()
                raise AssertionError("server %r did not announce %d listener(s); log: %r"
                                     % (self.argv, self.listeners, self.log_lines))
            m = _LISTEN_RE.search(line)
            if m:
                self.addrs.append(m.group(1))
        self.host, self.port = parse_addr(self.addrs[0])
        return self

    def read_log_line(self, deadline):
        """Next stderr line (str), or None at EOF or when the deadline passes."""
        fd = self.proc.stderr.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line = line.decode(errors="replace")
        self.log_lines.append(line)
        return line

    def wait_log(self, pattern, timeout=DEFAULT_TIMEOUT):
        """Wait for a log line matching regex `pattern`; return the match or raise."""
        rx = re.compile(pattern)
        for line in self.log_lines:
            m = rx.search(line)
            if m:
                return m
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_log_line(deadline)
            if line is None:
                raise AssertionError("no log line matching %r; log: %r" % (pattern, self.log_lines))
            m = rx.search(line)
            if m:
                return m

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=DEFAULT_TIMEOUT):
        """Send sig and wait; return the exit status (negative: killed by a signal)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server did not exit within %.1fs of signal %d" % (timeout, sig))
        self.drain_log()
        return self.proc.returncode

    def drain_log(self):
        deadline = time.monotonic() + 1.0
        while self.read_log_line(deadline) is not None:
            pass

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def serve(service, *args, model=None, addr="127.0.0.1:0", **kw):
    """Server for `sockit serve SERVICE -l ADDR -v [--model M] ARGS...`."""
    argv = [SOCKIT, "serve", service, "-l", addr, "-v"]
    if model:
        argv += ["--model", model]
    return Server(argv + list(args), **kw)


def run(argv, input=None, timeout=DEFAULT_TIMEOUT, **kw):
    """Run a command to completion with a deadline; returns CompletedProcess (bytes)."""
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def connect(port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
    """A connected TCP client socket with a timeout on every operation."""
    return socket.create_connection((host, port), timeout=timeout)


def recv_until_eof(sock, limit=1 << 30):
    """Read until the peer closes (bounded by the socket's timeout and `limit` bytes)."""
    chunks, total = [], 0
    while total < limit:
        data = sock.recv(min(1 << 16, limit - total))
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


def recv_exact(sock, n):
    """Read exactly n bytes or raise AssertionError at EOF."""
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(min(1 << 16, n - len(buf)))
        if not data:
            raise AssertionError("EOF after %d of %d bytes" % (len(buf), n))
        buf += data
    return bytes(buf)


def main():
    """unittest.main() with verbose output, for `python3 test_x.py`."""
    unittest.main(verbosity=2)
