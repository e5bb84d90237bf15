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
MODELS = ("loop", "iterative", "thread", "fork")
# make valgrind sets SOCKIT_VALGRIND to how much longer deadlines may be (SOCKIT and
# SOCKIT_EXAMPLES are then wrappers that run the programs under memcheck).
VALGRIND_SCALE = float(os.environ.get("SOCKIT_VALGRIND") or 0)
DEFAULT_TIMEOUT = 10.0 * (VALGRIND_SCALE or 1)


def under_valgrind():
    """True under make valgrind: everything sockit does is 20-50 times slower."""
    return VALGRIND_SCALE > 0


def skip_under_valgrind(why):
    """Decorator: skip a test (or class) visibly under make valgrind, saying why."""
    return unittest.skipIf(under_valgrind(), "under valgrind: " + why)

_LISTEN_RE = re.compile(r"Listening on (\S+)")
# The default of Server.stop: inside the class body the name `signal` is the method.
_SIGTERM = signal.SIGTERM


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
        try:
            self.host, self.port = parse_addr(self.addrs[0])
        except ValueError:  # unix:/path and other addresses without host and port
            self.host, self.port = None, None
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

    def stop(self, sig=_SIGTERM, timeout=None):
        """Send sig and wait; return the exit status (negative: killed by a signal). The
        wait outlasts serve's default 10 s drain, for a client still open at the stop;
        a sanitizer build gets three times as long (DEFAULT_TIMEOUT scales with valgrind)."""
        if timeout is None:
            timeout = 2 * DEFAULT_TIMEOUT * (3 if os.environ.get("SOCKIT_SANITIZER") else 1)
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server did not exit within %.1fs of signal %d" % (timeout, sig))
        self.drain_log()
        reports = sanitizer_reports(self.log_lines)
        if reports:  # UBSan and fork children's TSan reports do not change the status
            raise AssertionError("sanitizer reports in the server's log: %r" % reports[:5])
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


def have_ipv6_loopback():
    """True when this host can bind ::1 (some containers have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


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



def sees_end(sock, timeout=DEFAULT_TIMEOUT):
    """True once the peer has closed or reset the connection (bounded by timeout); data
    read meanwhile (unread echo bytes, say) is dropped. False if it is still open."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False

def recv_exact(sock, n):
    """Read exactly n bytes or raise AssertionError at EOF."""
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(min(1 << 16, n - len(buf)))
        if not data:
            raise AssertionError("EOF after %d of %d bytes" % (len(buf), n))
        buf += data
    return bytes(buf)


# Exit status that ctest reports as "Skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
SKIP_EXIT = 77


def skip_file(reason):
    """Skip a whole test file visibly: print why and exit so ctest lists it as Skipped."""
    sys.stderr.write("SKIPPED: %s\n" % reason)
    sys.exit(SKIP_EXIT)


# ---- cases that need a tool (nc, socat, root, ...): tests/lib/sktools.py ----

import sktools as _sktools

_NEEDS = "_sktest_needs"


def needs(*tools):
    """Decorator for a test method or class that needs tools (sktools.TOOLS: "nc",
    "ncat", "socat", "root", "ip", "ss", "timeout", "prlimit", "make"), e.g. @sktest.needs("socat").

    Under ctest each marked case (or class) is an entry of its own, named after it
    (cli.test_udp.Nc.test_nc_udp_client), which exits 77 when a tool is missing, so
    ctest's summary names every case that did not run; the file's own entry leaves
    them out (tests/CMakeLists.txt, sktest.main()). Run by hand, a marked case whose
    tool is missing is skipped with the reason. Names must be literal strings (the
    configure step reads them with ast)."""
    for t in tools:
        _sktools.missing(t)  # ValueError for an unknown name, at import

    def deco(obj):
        have = tuple(getattr(obj, _NEEDS, ()))
        reasons = [r for r in (_sktools.missing(t) for t in tools) if r]
        if reasons:
            obj = unittest.skip("; ".join(reasons))(obj)
        setattr(obj, _NEEDS, have + tuple(t for t in tools if t not in have))
        return obj
    return deco


def _needs_of(obj):
    return tuple(getattr(obj, _NEEDS, ()))


class _WithoutNeeds(unittest.TestLoader):
    """Loads every case but those marked with needs() (each has its own ctest entry)."""

    def __init__(self):
        super().__init__()
        self.left_out = []

    def getTestCaseNames(self, cls):
        names = super().getTestCaseNames(cls)
        if _needs_of(cls):
            self.left_out += ["%s.%s" % (cls.__name__, n) for n in names]
            return []
        keep = []
        for n in names:
            if _needs_of(getattr(cls, n)):
                self.left_out.append("%s.%s" % (cls.__name__, n))
            else:
                keep.append(n)
        return keep


def _main_file():
    return os.path.abspath(sys.modules["__main__"].__file__)


def _run_one_case(case):
    """SKTEST_CASE=Class[.test]: run that case alone; exit 77 if a tool it needs is
    missing, or if it skipped itself (so ctest names it), 1 if it failed."""
    mod = sys.modules["__main__"]
    cls_name, _, meth = case.partition(".")
    cls = getattr(mod, cls_name, None)
    target = getattr(cls, meth, None) if meth else cls
    if target is None:
        sys.stderr.write("sktest: no case %s in %s\n" % (case, _main_file()))
        sys.exit(1)
    tools = _needs_of(cls) + tuple(t for t in _needs_of(target) if t not in _needs_of(cls))
    reasons = [r for r in (_sktools.missing(t) for t in tools) if r]
    if reasons:
        sys.stderr.write("SKIPPED: %s: %s\n" % (case, "; ".join(reasons)))
        sys.exit(SKIP_EXIT)
    prog = unittest.main(argv=[sys.argv[0], case], verbosity=2, exit=False)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun and len(r.skipped) == r.testsRun:
        sys.exit(SKIP_EXIT)
    sys.exit(0)


def main():
    """unittest.main() with verbose output, for `python3 test_x.py`. Under ctest
    (tests/CMakeLists.txt) also: SKTEST_CASE=Class.test runs one needs()-marked case as
    its own entry; SKTEST_EXCLUDE_NEEDS=1 runs everything else."""
    case = os.environ.get("SKTEST_CASE")
    if case:
        _run_one_case(case)
    if not os.environ.get("SKTEST_EXCLUDE_NEEDS"):
        unittest.main(verbosity=2)
        return
    loader = _WithoutNeeds()
    suite = loader.loadTestsFromModule(sys.modules["__main__"])
    # Every case left out here must have its own ctest entry, or it would never run.
    entries = {c for c, _ in _sktools.scan(_main_file())}
    lost = [c for c in loader.left_out
            if c not in entries and c.partition(".")[0] not in entries]
    if lost:
        sys.stderr.write("sktest: %s: needs() marks %s, but tests/CMakeLists.txt cannot see "
                         "them: mark a `def test_*` or a class in this file\n"
                         % (_main_file(), ", ".join(lost)))
        sys.exit(1)
    if loader.left_out:
        sys.stderr.write("NOTE: %d case(s) needing a tool run as ctest entries of their own: "
                         "%s\n" % (len(loader.left_out), ", ".join(loader.left_out)))
    if suite.countTestCases() == 0:
        sys.exit(0)
    unittest.main(verbosity=2, testLoader=loader)


# ---- additive helpers for the CLI suite (tests/cli) ----

import random as _random
import struct as _struct
import threading as _threading

CHARGEN_RING = bytes(range(32, 127))  # the 95 printable characters, RFC 864
CHARGEN_LINE = 72


def each_model(cls):
    """Class decorator: every method `each_NAME(self, model)` becomes one test per server
    model (`test_NAME_loop`, `test_NAME_iterative`, ...), so a failure names its model."""
    return each_model_in(*MODELS)(cls)


def chargen_expected(nbytes, first_line=0):
    """The first nbytes of an RFC 864 stream whose first line is line `first_line`:
    line N is the 72 ring characters starting at ring position N mod 95, then CR LF."""
    out = bytearray()
    line = first_line
    ring2 = CHARGEN_RING * 2
    while len(out) < nbytes:
        start = line % len(CHARGEN_RING)
        out += ring2[start:start + CHARGEN_LINE] + b"\r\n"
        line += 1
    return bytes(out[:nbytes])


def random_bytes(n, seed=None):
    """n pseudo-random bytes (NULs included), reproducible with a seed."""
    rng = _random.Random(seed)
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def reset_close(sock):
    """Close with SO_LINGER {1, 0}: the peer gets a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _struct.pack("ii", 1, 0))
    sock.close()


def exchange(sock, payload, shut_wr=True, limit=None):
    """Send payload from a helper thread while reading on this one (so neither side can
    block the other), optionally shut the write side down after the last byte, and read
    until EOF (or until `limit` bytes). Returns the bytes read; a sender error is
    re-raised here. Bounded by the socket's timeout."""
    err = []

    def sender():
        try:
            sock.sendall(payload)
            if shut_wr:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:  # reported below, after the reader has finished
            err.append(e)

    t = _threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        if limit is None:
            data = recv_until_eof(sock)
        else:
            data = recv_exact(sock, limit)
    finally:
        t.join(sock.gettimeout() or DEFAULT_TIMEOUT)
    if t.is_alive():
        raise AssertionError("sender still blocked after the reader finished")
    if err:
        raise err[0]
    return data


def wait_until(pred, timeout=DEFAULT_TIMEOUT, interval=0.02):
    """Poll pred() until it returns a true value or the deadline passes; returns the last
    value. Only for states with no readiness signal (process states in /proc)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def child_pids(pid):
    """Pids of the live (or zombie) children of process `pid`, from
    /proc/PID/task/*/children; [] if the process is gone."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def proc_stat(pid):
    """(state, ppid, starttime) of a process from /proc/PID/stat, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def first_difference(got, want):
    """Offset of the first byte where got and want differ (the shorter length if one is a
    prefix of the other), or None if they are equal."""
    if got == want:
        return None
    n = min(len(got), len(want))
    lo = 0
    step = 1 << 16
    while lo < n and got[lo:lo + step] == want[lo:lo + step]:
        lo += step
    for i in range(lo, min(n, lo + step)):
        if got[i] != want[i]:
            return i
    return n


class Case(unittest.TestCase):
    """TestCase with a byte comparison that reports lengths and the first difference
    instead of dumping megabytes. Server never closes its stderr pipe: the
    ResourceWarning that leaves is silenced here (unclosed sockets still warn)."""

    def run(self, result=None):
        import warnings
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", r"unclosed file <_io\.BufferedReader",
                                    ResourceWarning)
            r = super().run(result)
            import gc
            gc.collect()  # so the pipes are finalized under this filter
            return r

    def assertSameBytes(self, got, want, what="data"):
        i = first_difference(got, want)
        if i is not None:
            self.fail("%s differs: got %d bytes, want %d; first difference at offset %d: "
                      "got %r, want %r" % (what, len(got), len(want), i,
                                           bytes(got[i:i + 24]), bytes(want[i:i + 24])))


# ---- process and client helpers (server admission, drain and load tests) ----

def rss_kb(pid):
    """Resident set size of process `pid` in KiB (VmRSS in /proc/PID/status), or None if
    it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    """User plus system CPU time of process `pid` (all its threads) in seconds, from
    /proc/PID/stat, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect_from(port, source, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
    """A TCP client socket bound to loopback address `source` (e.g. '127.0.0.2', any
    port) before it connects, so that a server sees that source address."""
    return socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0))


def each_model_in(*models):
    """Like each_model, for the listed models only: `each_NAME(self, model)` becomes
    `test_NAME_MODEL` for each of `models` (for features that apply to some models)."""
    def deco(cls):
        for name in [n for n in vars(cls) if n.startswith("each_")]:
            fn = getattr(cls, name)

            def make(fn, model):
                def test(self):
                    return fn(self, model)
                test.__name__ = "test_%s_%s" % (fn.__name__[len("each_"):], model)
                test.__doc__ = " ".join((fn.__doc__ or "").split()) + " [%s]" % model
                return test

            for model in models:
                t = make(fn, model)
                setattr(cls, t.__name__, t)
            delattr(cls, name)
        return cls
    return deco


# ---- transports: the same case over TCP and over Unix stream sockets ----

import atexit as _atexit
import itertools as _itertools
import shutil as _shutil
import tempfile as _tempfile

TRANSPORTS = ("tcp", "unix")
_unix_dir = []
_unix_seq = _itertools.count()


def unix_path(tag="s"):
    """A fresh Unix socket path in a private directory that is removed at exit (short
    enough for sun_path)."""
    if not _unix_dir:
        _unix_dir.append(_tempfile.mkdtemp(prefix="sktest-"))
        _atexit.register(_shutil.rmtree, _unix_dir[0], True)
    return os.path.join(_unix_dir[0], "%s%d.sock" % (tag, next(_unix_seq)))


def listen_addr(transport):
    """The -l address of a server over `transport`: 127.0.0.1:0 or unix:PATH."""
    if transport == "tcp":
        return "127.0.0.1:0"
    if transport == "unix":
        return "unix:" + unix_path()
    raise ValueError(transport)


def connect_addr(addr, timeout=DEFAULT_TIMEOUT, named=True):
    """A client socket connected to an address as `Listening on` prints it (HOST:PORT,
    [V6]:PORT, unix:/PATH, unix:@NAME), with a timeout. A Unix client first binds a unique
    abstract name (unless named=False), so that serve -v names it in its log: an unnamed
    Unix client is logged under the listener's own address."""
    if not addr.startswith("unix:"):
        host, port = parse_addr(addr)
        return socket.create_connection((host, port), timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if named:
            s.bind("\0sktest-%d-%d" % (os.getpid(), next(_unix_seq)))
        path = addr[5:]
        s.connect("\0" + path[1:] if path.startswith("@") else path)
    except BaseException:
        s.close()
        raise
    return s


def peer_pattern(sock):
    """A regex for how serve -v names the client `sock`: 127.0.0.1:PORT, [::1]:PORT or
    unix:@NAME (a client of connect_addr)."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        return re.escape("unix:@" + name[1:] if name.startswith("\0") else "unix:" + name)
    if sock.family == socket.AF_INET6:
        return re.escape("[%s]:%d" % (name[0], name[1]))
    return re.escape("%s:%d" % (name[0], name[1]))


class TransportMixin:
    """For a TestCase run over one transport, named by the class attribute `transport`
    ("tcp" or "unix"): a subclass that sets transport = "unix" runs every test again over
    a Unix stream socket."""

    transport = "tcp"

    def serve(self, service, *args, model=None, **kw):
        return serve(service, *args, model=model, addr=listen_addr(self.transport), **kw)

    def connect(self, srv, timeout=DEFAULT_TIMEOUT):
        return connect_addr(srv.addrs[0], timeout)


def each_model_transport(*models):
    """Class decorator: `each_NAME(self, model, transport)` becomes one test per server
    model (default: every model) and transport, `test_NAME_MODEL_TRANSPORT`."""
    models = models or MODELS

    def deco(cls):
        for name in [n for n in vars(cls) if n.startswith("each_")]:
            fn = getattr(cls, name)

            def make(fn, model, transport):
                def test(self):
                    return fn(self, model, transport)
                test.__name__ = "test_%s_%s_%s" % (fn.__name__[len("each_"):], model, transport)
                test.__doc__ = " ".join((fn.__doc__ or "").split()) + " [%s, %s]" % (
                    model, transport)
                return test

            for model in models:
                for transport in TRANSPORTS:
                    t = make(fn, model, transport)
                    setattr(cls, t.__name__, t)
            delattr(cls, name)
        return cls
    return deco


class LogPump:
    """Read a Server's log on a thread of its own while a test makes it log a lot (a fork
    model child writes its log lines itself and blocks on a full pipe). Lines still land in
    srv.log_lines; wait with pump.wait(). While the pump runs, do not call srv.wait_log()
    or srv.stop(): leave the `with` block first.

        with LogPump(srv) as pump:
            ...
            pump.wait(r"^Closed ", count=1000)
    """

    def __init__(self, srv):
        self.srv = srv
        self.cv = _threading.Condition()
        self.done = False
        self.t = _threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.done = True
        self.t.join(DEFAULT_TIMEOUT)
        return False

    def _run(self):
        while not self.done:
            line = self.srv.read_log_line(time.monotonic() + 0.1)
            if line is None:
                if self.srv.proc.poll() is not None:
                    break  # EOF: the server is gone
                continue
            with self.cv:
                self.cv.notify_all()
        with self.cv:
            self.done = True
            self.cv.notify_all()

    def count(self, pattern, start=0):
        rx = re.compile(pattern)
        return sum(1 for line in self.srv.log_lines[start:] if rx.search(line))

    def wait(self, pattern, count=1, timeout=DEFAULT_TIMEOUT, start=0):
        """Wait until `count` log lines from index `start` on match regex `pattern`;
        return the matches, or raise AssertionError at the deadline."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                found = [m for m in map(rx.search, self.srv.log_lines[start:]) if m]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.done:
                    raise AssertionError("%d of %d log lines matching %r (server %s); last "
                                         "lines: %r" % (len(found), count, pattern,
                                                        "alive" if self.srv.proc.poll() is None
                                                        else "gone", self.srv.log_lines[-8:]))
                self.cv.wait(left)


_SANITIZER_RE = re.compile(r"runtime error:|(Address|Thread|Leak|UndefinedBehavior)Sanitizer")


def sanitizer_reports(lines):
    """The lines of a log that are sanitizer reports. UBSan goes on after a report and a
    fork child's TSan exit status is never seen, so a test that checks only exit statuses
    would miss them: check the server's log."""
    return [line for line in lines if _SANITIZER_RE.search(line)]


def read_pipe(f, n, timeout=DEFAULT_TIMEOUT):
    """Up to n bytes from a pipe (file object), bounded; fewer only at EOF or deadline."""
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([f], [], [], left)
        if not r:
            break
        chunk = os.read(f.fileno(), n - len(got))
        if not chunk:
            break
        got += chunk
    return got


# ---- network namespaces of a test's own (root and iproute2) ----

_netns_made = []


def netns_delete(ns):
    """End every process in namespace ns (a server whose stop failed would keep it alive
    after `ip netns del`), then delete it; quiet when it is already gone."""
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, timeout=DEFAULT_TIMEOUT)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=DEFAULT_TIMEOUT)


def netns_remove_stale(prefix):
    """Delete namespaces PREFIX-PID[-...] left by earlier runs whose process is gone."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=DEFAULT_TIMEOUT)
    for ns, pid in re.findall(r"^(%s-(\d+)\S*)" % re.escape(prefix), r.stdout.decode(), re.M):
        if not os.path.exists("/proc/%s" % pid):
            netns_delete(ns)


def netns_add(prefix, *setup):
    """A namespace PREFIX-PID-N of this process, with lo up and each of `setup` (argument
    lists for `ip`, e.g. ["addr", "add", "10.88.0.1/24", "dev", "lo"]) run in it; deleted
    at exit (netns_cleanup() deletes them sooner). Stale ones of the same prefix go first.
    Returns its name; raises AssertionError when a step fails."""
    if not _netns_made:
        import atexit
        atexit.register(netns_cleanup)
    netns_remove_stale(prefix)
    ns = "%s-%d-%d" % (prefix, os.getpid(), len(_netns_made))
    steps = [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]
    steps += [["-n", ns] + [str(a) for a in step] for step in setup]
    for i, step in enumerate(steps):
        r = subprocess.run(["ip"] + step, capture_output=True, timeout=DEFAULT_TIMEOUT)
        if i == 0 and r.returncode == 0:
            _netns_made.append(ns)
        if r.returncode != 0:
            raise AssertionError("ip %s: %s" % (" ".join(step),
                                                r.stderr.decode(errors="replace").strip()))
    return ns


def netns_cleanup():
    """Delete every namespace netns_add() made."""
    while _netns_made:
        netns_delete(_netns_made.pop())
