"""sockit bench: the load generator against sockit serve (every mode, TCP, UDP, Unix),
against scripted Python servers (one that corrupts its echo, truncates or resets each
connection, stalls, drops datagrams, records its peers' addresses), and against nothing
at all. Short runs (-d 0.5 .. 2, or -n) so the whole file stays well under a minute."""
import json
import os
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from sktest import SOCKIT, Case, main, run, serve, skip_under_valgrind, under_valgrind

RUN_TIMEOUT = 30.0
JSON_KEYS = ("rps", "mib_per_s", "bits_per_s", "latency_us", "errors", "errors_by_kind",
             "lost", "mismatches", "conns", "size", "pipeline", "duration_s", "mode")
GONE_KEYS = ("mbps", "mbps_in", "mbps_out", "failed")  # the names before issue 12
LATENCY_KEYS = ("min", "p50", "p90", "p99", "p999", "max")


def bench(*args, timeout=RUN_TIMEOUT):
    return run([SOCKIT, "bench"] + [str(a) for a in args], timeout=timeout)


def bench_json(case, *args, status=0):
    """Run bench --json; assert the exit status and that stdout is one JSON object with
    every documented key; return it."""
    p = bench("--json", *args)
    case.assertEqual(p.returncode, status, "stdout %r stderr %r" % (p.stdout, p.stderr))
    obj = json.loads(p.stdout)
    for k in JSON_KEYS:
        case.assertIn(k, obj)
    for k in GONE_KEYS:
        case.assertNotIn(k, obj)
    for k in LATENCY_KEYS:
        case.assertIn(k, obj["latency_us"])
    # errors counts every kind, mismatches included
    case.assertEqual(obj["errors"], sum(obj["errors_by_kind"].values()), obj)
    case.assertEqual(obj["errors_by_kind"]["mismatch"], obj["mismatches"], obj)
    return obj


def discard_log(srv):
    """Read and drop the server's log in the background: with -v it logs a line per
    connection, and connect mode makes thousands, more than the pipe holds."""
    fd = srv.proc.stderr.fileno()

    def drain():
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()


def time_wait_count(port):
    """TIME_WAIT sockets (state 06) with `port` at either end, from /proc/net/tcp{,6}."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "06":
                continue
            ports = {int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)}
            n += port in ports
    return n


class ScriptedServer:
    """A TCP server on 127.0.0.1 (a thread per client) whose _serve(sock) says what it does
    with each connection; self.peers holds the (host, port) of every client accepted."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.1)  # so that the accept loop sees `stopped` soon
        self.port = self.lsock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.stopped = False
        self.peers = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.thread.join(5)
        self.lsock.close()
        return False

    def _accept(self):
        while not self.stopped:
            try:
                c, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.peers.append(peer[:2])
            threading.Thread(target=self._serve_quietly, args=(c,), daemon=True).start()

    def _serve_quietly(self, c):
        try:
            with c:
                c.settimeout(10)
                self._serve(c)
        except OSError:  # bench resets its connections at the end
            pass

    def _serve(self, c):
        raise NotImplementedError


class CorruptingEcho(ScriptedServer):
    """An echo server that flips one bit of byte 10 of every `every`-th `size`-byte block
    of each client's stream: a broken server for bench to catch."""

    def __init__(self, size=64, every=20):
        super().__init__()
        self.block = size * every

    def _serve(self, c):
        pos = 0
        with c:
            c.settimeout(10)
            try:
                while True:
                    data = bytearray(c.recv(65536))
                    if not data:
                        return
                    for i in range(len(data)):
                        if (pos + i) % self.block == 10:
                            data[i] ^= 0x01
                    pos += len(data)
                    c.sendall(data)
            except OSError:
                return


class Echo(ScriptedServer):
    """A plain echo server (it records its clients' addresses, as every ScriptedServer)."""

    def _serve(self, c):
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)


class TruncatingEcho(ScriptedServer):
    """An echo server that never alters a byte but ends each connection after echoing
    `limit` bytes: with a FIN (how="fin": shutdown, then it reads and drops the rest until
    the client closes, so no reset follows) or a reset (how="rst", SO_LINGER 0)."""

    def __init__(self, how, limit=50000):
        super().__init__()
        self.how, self.limit = how, limit

    def _serve(self, c):
        n = 0
        while n < self.limit:
            data = c.recv(min(65536, self.limit - n))
            if not data:
                return
            c.sendall(data)
            n += len(data)
        if self.how == "rst":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass


class Stalled(ScriptedServer):
    """Accepts and reads everything, never replies."""

    def _serve(self, c):
        while c.recv(65536):
            pass


class LossyUdpEcho:
    """A UDP echo server on 127.0.0.1 that drops every `every`-th datagram (0: none);
    self.dropped counts them, self.sources holds every sender's host."""

    def __init__(self, every):
        self.every = every
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.received = self.dropped = 0
        self.sources = set()
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()
        return False

    def _loop(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received += 1
            self.sources.add(peer[0])
            if self.every and self.received % self.every == 0:
                self.dropped += 1
                continue
            try:
                self.sock.sendto(data, peer)
            except OSError:
                pass


def loopback_alias_ok(*hosts):
    """True when this host can bind each 127.0.0.x (Linux routes all of 127/8 to lo)."""
    for h in hosts:
        try:
            with socket.socket() as s:
                s.bind((h, 0))
        except OSError:
            return False
    return True


def free_port():
    """A TCP port that nothing on 127.0.0.1 used a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_bench(*args, timeout=RUN_TIMEOUT):
    """bench(*args) and its wall time in seconds."""
    t0 = time.monotonic()
    p = bench(*args, timeout=timeout)
    return p, time.monotonic() - t0


class BenchEcho(Case):
    def test_requests_exact(self):
        """echo -n 1000: exactly 1000 requests, none mismatched, exit 0"""
        with serve("echo") as srv:
            obj = bench_json(self, "-n", 1000, "-c", 10, "%s:%d" % (srv.host, srv.port))
        self.assertEqual(obj["requests"], 1000)
        self.assertEqual(obj["mismatches"], 0)
        self.assertEqual(obj["errors"], 0)
        self.assertEqual(obj["mode"], "echo")
        self.assertEqual((obj["conns"], obj["size"], obj["pipeline"]), (10, 64, 1))
        lat = obj["latency_us"]
        self.assertGreater(lat["min"], 0)
        self.assertTrue(lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"]
                        <= lat["max"], lat)

    def test_pipeline_text_report(self):
        """pipeline 16 for 0.5 s: the text report names the run and counts requests"""
        with serve("echo") as srv:
            p = bench("-p", 16, "-c", 8, "-d", 0.5, "%s:%d" % (srv.host, srv.port))
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn("echo, 8 conns x 64 B, pipeline 16", out)
        self.assertRegex(out, r"requests\s+[1-9]\d*\s")
        self.assertRegex(out, r"latency\s+min .* p99\.9 .* max ")
        self.assertIn("errors     0 (mismatches 0)", out)

    def test_pipeline_counts_add_up(self):
        """-n with pipeline 16 and 2 threads: still exactly n requests"""
        with serve("echo") as srv:
            obj = bench_json(self, "-n", 5000, "-p", 16, "-c", 7, "-t", 2,
                             "%s:%d" % (srv.host, srv.port))
        self.assertEqual(obj["requests"], 5000)
        self.assertEqual(obj["mismatches"], 0)

    def test_line_and_len32(self):
        """--frame line / len32 against serve echo with the same framing"""
        for frame in ("line", "len32"):
            with self.subTest(frame=frame), serve("echo", "--frame", frame) as srv:
                obj = bench_json(self, "--frame", frame, "-p", 4, "-c", 5, "-n", 2000,
                                 "%s:%d" % (srv.host, srv.port))
                self.assertEqual(obj["requests"], 2000)
                self.assertEqual(obj["mismatches"], 0)

    def test_warmup_and_histogram(self):
        """--warmup is excluded; --histogram writes HdrHistogram's percentile text"""
        with tempfile.TemporaryDirectory() as d, serve("echo") as srv:
            path = os.path.join(d, "lat.hgrm")
            obj = bench_json(self, "--warmup", 0.3, "-n", 500, "-c", 4, "--histogram", path,
                             "%s:%d" % (srv.host, srv.port))
            self.assertEqual(obj["requests"], 500)
            with open(path) as f:
                text = f.read()
        self.assertIn("Value     Percentile TotalCount 1/(1-Percentile)", text)
        self.assertIn("Total count    =          500", text)

    def test_rate(self):
        """-r 2000 for 1 s: roughly 2000 requests/s (within 20 %)"""
        with serve("echo") as srv:
            obj = bench_json(self, "-r", 2000, "-c", 10, "-d", 1, "%s:%d" % (srv.host, srv.port))
        self.assertLess(abs(obj["rps"] - 2000) / 2000, 0.2, obj)
        self.assertEqual(obj["rate"], 2000)

    def test_unix(self):
        """a Unix stream address"""
        with tempfile.TemporaryDirectory() as d:
            addr = "unix:" + os.path.join(d, "echo.sock")
            with serve("echo", addr=addr):
                obj = bench_json(self, "-n", 1000, "-c", 4, addr)
        self.assertEqual(obj["requests"], 1000)
        self.assertEqual(obj["transport"], "unix")


class BenchModes(Case):
    def test_bulk(self):
        """bulk: MiB/s > 0 both ways, no mismatch"""
        with serve("echo") as srv:
            obj = bench_json(self, "--mode", "bulk", "-c", 2, "-s", "16K", "-d", 0.5,
                             "%s:%d" % (srv.host, srv.port))
        self.assertGreater(obj["mib_per_s_out"], 0)
        self.assertGreater(obj["mib_per_s_in"], 0)
        self.assertEqual(obj["mismatches"], 0)
        self.assertEqual(obj["bytes_lost"], 0, obj)  # every byte sent came back
        self.assertLessEqual(obj["bytes_in"], obj["bytes_out"] + 16 * 1024 * 1024)
        # bits_per_s is bytes * 8 per second; mib_per_s the same in 2^20 bytes
        self.assertAlmostEqual(obj["bits_per_s_out"], obj["mib_per_s_out"] * 8 * 1048576,
                               delta=obj["bits_per_s_out"] * 1e-3 + 1e4)
        self.assertAlmostEqual(obj["bits_per_s"], obj["mib_per_s"] * 8 * 1048576,
                               delta=obj["bits_per_s"] * 1e-3 + 1e4)

    def test_connect_no_time_wait(self):
        """connect: cps > 0, and the reset close leaves no pile of TIME_WAIT sockets"""
        with serve("echo") as srv:
            discard_log(srv)
            before = time_wait_count(srv.port)
            obj = bench_json(self, "--mode", "connect", "-c", 8, "-d", 1,
                             "%s:%d" % (srv.host, srv.port))
            after = time_wait_count(srv.port)
        self.assertGreater(obj["cps"], 0)
        self.assertGreater(obj["requests"], 200)
        self.assertEqual(obj["mismatches"], 0)
        self.assertLess(after - before, 20, "TIME_WAIT %d -> %d after %d connections"
                        % (before, after, obj["requests"]))

    def test_udp_echo(self):
        """UDP echo at a modest rate on loopback: nothing lost, reordered or duplicated"""
        with serve("echo", "--udp") as srv:
            obj = bench_json(self, "--udp", "-r", 1000, "-c", 4, "-d", 1,
                             "%s:%d" % (srv.host, srv.port))
        self.assertGreater(obj["requests"], 800)
        self.assertEqual((obj["lost"], obj["reordered"], obj["duplicated"]), (0, 0, 0), obj)
        self.assertEqual(obj["transport"], "udp")

    def test_udp_discard_loss(self):
        """UDP against discard: every datagram is lost, and no request succeeded (exit 1)"""
        with serve("discard", "--udp") as srv:
            obj = bench_json(self, "--udp", "-c", 3, "-p", 4, "-d", 0.5, "-w", 0.3,
                             "%s:%d" % (srv.host, srv.port), status=1)
        self.assertEqual(obj["requests"], 0)
        self.assertGreaterEqual(obj["lost"], 12)


class BenchFailures(Case):
    def test_corrupting_server(self):
        """a server that flips a byte in every 20th response: mismatches > 0, exit 1"""
        with CorruptingEcho(size=64, every=20) as srv:
            obj = bench_json(self, "-c", 4, "-n", 2000, "127.0.0.1:%d" % srv.port, status=1)
        self.assertGreater(obj["mismatches"], 0)
        # One response in 20 on each connection, give or take the first block.
        self.assertLess(abs(obj["mismatches"] - 100), 10, obj)
        # A mismatched response is an error, not a completed request.
        self.assertEqual(obj["requests"] + obj["mismatches"], 2000, obj)
        self.assertGreaterEqual(obj["errors"], obj["mismatches"])

    def test_corrupting_server_text(self):
        """the text report shows the mismatches"""
        with CorruptingEcho(size=64, every=5) as srv:
            p = bench("-c", 2, "-n", 100, "127.0.0.1:%d" % srv.port)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout.decode(), r"\(mismatches [1-9]\d*\)")

    def test_refused(self):
        """nothing listens: exit 1 at once, with the refusals in the summary"""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # a port that refuses
        p = bench("-c", 5, "-d", 5, "127.0.0.1:%d" % port, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Connection refused", p.stderr.decode())
        self.assertRegex(p.stdout.decode(), r"errors\s+5 .*refused 5")
        obj = bench_json(self, "--mode", "connect", "127.0.0.1:%d" % port, status=1)
        self.assertGreater(obj["errors_by_kind"]["refused"], 0)

    def test_usage_errors(self):
        """bad options exit 2 with a usage message"""
        for args in ([], ["-c", "0", "1"], ["--mode", "nope", "1"], ["--udp", "--mode", "bulk", "1"],
                     ["--frame", "crlf", "1"], ["--bogus", "1"], ["-s"], ["1", "2"],
                     ["--mode", "bulk", "-r", "5", "1"], ["-p", "0", "1"], ["unix:", "-d", "x"]):
            with self.subTest(args=args):
                p = bench(*args, timeout=10)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertTrue(p.stderr.startswith(b"sockit: "), p.stderr)

    def test_help(self):
        p = bench("--help")
        self.assertEqual(p.returncode, 0)
        for word in (b"--mode", b"--rate", b"--histogram", b"--json", b"Examples"):
            self.assertIn(word, p.stdout)



class BenchVerification(Case):
    """Issue 12: data never lost silently, and no false mismatch."""

    def test_bulk_discard_short_read(self):
        """bulk against discard: the bytes never echoed are a short_read error, exit 1;
        --no-verify (the way to bench discard) still exits 0"""
        with serve("discard") as srv:
            addr = "%s:%d" % (srv.host, srv.port)
            t0 = time.monotonic()
            obj = bench_json(self, "--mode", "bulk", "-c", 2, "-d", 0.5, addr, status=1)
            wall = time.monotonic() - t0
            plain = bench_json(self, "--mode", "bulk", "-c", 2, "-d", 0.5, "--no-verify", addr)
        self.assertEqual(obj["bytes_in"], 0)
        self.assertEqual(obj["errors_by_kind"]["short_read"], 2, obj)  # one per connection
        self.assertGreater(obj["bytes_lost"], 0, obj)
        self.assertEqual(obj["mismatches"], 0)
        if not under_valgrind():
            self.assertLess(wall, 0.5 + 1 + 1.5, "the grace for echoes in flight is bounded")
        self.assertEqual(plain["errors"], 0, plain)
        self.assertEqual(plain["bytes_lost"], 0, plain)

    def test_bulk_discard_text(self):
        """the text report names the short reads and the bytes never echoed back"""
        with serve("discard") as srv:
            p = bench("--mode", "bulk", "-c", 1, "-d", 0.3, "%s:%d" % (srv.host, srv.port))
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 1, out)
        self.assertRegex(out, r"errors\s+1 \(mismatches 0\): short_read 1; [1-9]\d* bytes sent "
                         r"were never echoed back")
        self.assertIn("not echoed back within", p.stderr.decode())

    def test_chargen_mismatches_are_not_requests(self):
        """echo mode against chargen: nothing verifies, so 0 requests, every reply a
        mismatch (an error), exit 1"""
        with serve("chargen") as srv:
            discard_log(srv)  # a line per reconnect
            obj = bench_json(self, "-c", 2, "-d", 0.5, "%s:%d" % (srv.host, srv.port), status=1)
        self.assertEqual(obj["requests"], 0, obj)
        self.assertEqual(obj["rps"], 0, obj)
        self.assertGreater(obj["mismatches"], 0, obj)
        self.assertGreaterEqual(obj["errors"], obj["mismatches"])
        self.assertIsNone(obj["latency_us"]["p50"], obj)  # nothing measured: null

    def test_chargen_text(self):
        """the text report: 0 requests and no made-up latency"""
        with serve("chargen") as srv:
            discard_log(srv)
            p = bench("-c", 1, "-d", 0.3, "%s:%d" % (srv.host, srv.port))
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 1, out)
        self.assertRegex(out, r"requests\s+0 ")
        self.assertIn("latency    - (no request verified)", out)
        self.assertNotIn("0.0 us", out)

    def test_bulk_reconnect_truncated(self):
        """bulk against a server that echoes faithfully but ends each connection (a FIN)
        after 50,000 bytes: no false mismatch after the reconnects; the truncations are
        'closed' errors, the bytes they cut off are lost, exit 1"""
        with TruncatingEcho("fin") as srv:
            obj = bench_json(self, "--mode", "bulk", "-c", 2, "-d", 1, "-s", "4K", srv.addr,
                             status=1)
        self.assertEqual(obj["mismatches"], 0, obj)
        self.assertGreater(obj["errors_by_kind"]["closed"], 2, obj)  # it did reconnect
        self.assertGreater(obj["bytes_lost"], 0, obj)
        self.assertGreater(obj["bytes_in"], 100000, obj)

    def test_bulk_reconnect_reset(self):
        """the same with a reset after 50,000 bytes: 'reset' errors, no mismatch"""
        with TruncatingEcho("rst") as srv:
            obj = bench_json(self, "--mode", "bulk", "-c", 2, "-d", 1, "-s", "4K", srv.addr,
                             status=1)
        self.assertEqual(obj["mismatches"], 0, obj)
        self.assertGreater(obj["errors_by_kind"]["reset"], 2, obj)
        self.assertGreater(obj["bytes_in"], 100000, obj)


    def test_echo_with_resets_is_a_failure(self):
        """echo mode against a server that resets each connection after 640 bytes:
        requests are verified and reported, but the resets are errors, and a run with
        errors exits 1 (a load test that lost connections did not pass)"""
        with TruncatingEcho("rst", limit=640) as srv:
            obj = bench_json(self, "-c", 2, "-d", 1, srv.addr, status=1)
        self.assertGreater(obj["requests"], 10, obj)
        self.assertEqual(obj["mismatches"], 0, obj)
        self.assertGreater(obj["errors_by_kind"]["reset"], 0, obj)


class BenchTiming(Case):
    @skip_under_valgrind("measures the run's wall time")
    def test_stalled_server_ends_at_duration(self):
        """-d 1 -w 20 against a server that accepts and never replies: the run ends at
        its duration plus the 1 s grace, not after 20 s"""
        with Stalled() as srv:
            p, wall = timed_bench("-c", 2, "-d", 1, "-w", 20, "--json", srv.addr, timeout=25)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertLess(wall, 1 + 1 + 1.5, "ran %.1f s" % wall)
        self.assertGreaterEqual(wall, 1.9)  # the grace was given
        obj = json.loads(p.stdout)
        self.assertEqual(obj["errors_by_kind"]["timeout"], 2, obj)
        self.assertEqual(obj["lost"], 2, obj)

    def test_no_reply_is_a_timeout_not_a_connect_error(self):
        """connections that succeed but get no reply: 'no reply within SEC s', counted as
        timeouts, never as connect errors"""
        with Stalled() as srv:
            p = bench("-c", 2, "-d", 1, "-w", 0.3, "--json", srv.addr, timeout=15)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("sockit: bench %s: no reply within 0.3 s" % srv.addr, err)
        self.assertNotIn("Connection timed out", err)
        obj = json.loads(p.stdout)
        kinds = obj["errors_by_kind"]
        self.assertGreaterEqual(kinds["timeout"], 2, obj)
        self.assertEqual((kinds["connect"], kinds["connect_timeout"]), (0, 0), obj)
        self.assertEqual(len(srv.peers) >= 2, True)

    @skip_under_valgrind("needs the run to keep pace with its 0.2 s timeout")
    def test_udp_lossy_closed_loop(self):
        """closed-loop UDP against a server that drops every 20th datagram: the run lasts
        its -d, every drop is counted lost (and nothing else), and the slots go on
        sending; lost datagrams alone do not fail the run"""
        with LossyUdpEcho(20) as srv:
            p, wall = timed_bench("--udp", "-c", 4, "-d", 2, "-w", 0.2, "--json", srv.addr)
            dropped, received = srv.dropped, srv.received
        self.assertEqual(p.returncode, 0, p.stderr)
        obj = json.loads(p.stdout)
        self.assertGreaterEqual(wall, 2)
        self.assertGreaterEqual(obj["duration_s"], 1.9, obj)
        self.assertGreater(dropped, 8, "only %d datagrams dropped" % dropped)
        self.assertLessEqual(abs(obj["lost"] - dropped), 2, (obj, dropped))
        self.assertEqual(obj["requests"] + obj["lost"], received, (obj, received))
        self.assertEqual(obj["late"], 0, obj)
        self.assertNotIn(b"giving up", p.stderr)


class BenchOutput(Case):
    def test_json_names(self):
        """mib_per_s (was mbps) and bits_per_s; lost (was failed); latency null when
        nothing was measured"""
        with serve("echo") as srv:
            obj = bench_json(self, "-n", 2000, "-c", 4, "%s:%d" % (srv.host, srv.port))
        self.assertAlmostEqual(obj["mib_per_s"], obj["rps"] * 64 / 1048576, delta=0.01)
        self.assertAlmostEqual(obj["bits_per_s"], obj["rps"] * 64 * 8,
                               delta=obj["bits_per_s"] * 1e-3 + 1)
        self.assertEqual(obj["lost"], 0)
        with Stalled() as srv:
            obj = bench_json(self, "-c", 1, "-d", 0.3, "-w", 0.2, srv.addr, status=1)
        self.assertEqual(obj["latency_us"], {k: None for k in LATENCY_KEYS}, obj)
        self.assertGreater(obj["lost"], 0, obj)

    def test_histogram_checked_before_the_run(self):
        """--histogram into a directory that does not exist fails at once, before any
        connection (exit 1, no report)"""
        with Echo() as srv:
            p, wall = timed_bench("-d", 3, "-c", 2, "--histogram", "/nonexistent/dir/lat.hgrm",
                                  srv.addr)
            peers = list(srv.peers)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(peers, [], "bench connected before checking the histogram path")
        if not under_valgrind():
            self.assertLess(wall, 2, "ran %.1f s before failing" % wall)
        self.assertIn(b"sockit: open /nonexistent/dir/lat.hgrm: No such file or directory",
                      p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_histogram_stdout(self):
        """--histogram - writes to stdout (after the report), not to a file named '-';
        with --json it is a usage error (stdout holds one JSON object)"""
        with tempfile.TemporaryDirectory() as d, serve("echo") as srv:
            addr = "%s:%d" % (srv.host, srv.port)
            p = run([SOCKIT, "bench", "-n", "300", "-c", "2", "--histogram", "-", addr], cwd=d)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(os.listdir(d), [])
            out = p.stdout.decode()
            self.assertLess(out.index("errors     0"),
                            out.index("Value     Percentile TotalCount 1/(1-Percentile)"))
            self.assertIn("Total count    =          300", out)
            p = bench("--json", "--histogram", "-", addr)
            self.assertEqual(p.returncode, 2, p.stderr)

    def test_numeric_option_messages(self):
        """each numeric option says what it expects: the rate is requests per second"""
        cases = [(["-r", "0"], "invalid rate '0' (expected requests per second, 0.001 to "
                                "100000000)"),
                 (["-d", "1e9"], "invalid duration '1e9' (expected seconds, 0.001 to 1000000)"),
                 (["-w", "0"], "invalid timeout '0' (expected seconds, 0.001 to 3600)"),
                 (["--warmup", "-1"], "invalid warmup '-1' (expected seconds, 0 to 1000000)"),
                 (["--interval", "0"], "invalid interval '0' (expected seconds, 0.1 to 1000000)"),
                 (["-c", "0"], "invalid connection count '0' (expected 1 to 100000)"),
                 (["-p", "0"], "invalid pipeline depth '0' (expected 1 to 4096)"),
                 (["-t", "0"], "invalid thread count '0' (expected 1 to 256)"),
                 (["-n", "0"], "invalid request count '0' (expected 1 to "),
                 (["-s", "0"], "invalid size '0' (expected 1 to 16777216 bytes"),
                 (["--source-port", "0"], "invalid source port '0' (expected 1 to 65535")]
        for args, msg in cases:
            with self.subTest(args=args):
                p = bench(*(args + ["1"]), timeout=10)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(("sockit: " + msg).encode(), p.stderr)

    def read_lines(self, proc, n, deadline):
        """Up to n stdout lines of proc, each read before the deadline (monotonic)."""
        lines, buf, fd = [], b"", proc.stdout.fileno()
        while len(lines) < n and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf and len(lines) < n:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode())
        return lines

    @skip_under_valgrind("reads the header against a deadline")
    def test_piped_header_at_start(self):
        """stdout a pipe: the header comes at the start, not after the run"""
        with serve("echo") as srv:
            t0 = time.monotonic()
            with subprocess.Popen([SOCKIT, "bench", "-c", "2", "-d", "2",
                                   "%s:%d" % (srv.host, srv.port)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL) as proc:
                first = self.read_lines(proc, 1, t0 + 1.2)
                proc.wait(RUN_TIMEOUT)
        self.assertEqual(len(first), 1, "no header within 1.2 s of a 2 s run")
        self.assertRegex(first[0], r"^sockit bench 127\.0\.0\.1:\d+: echo, 2 conns x 64 B, "
                         r"pipeline 1, \d+ threads, 2 s$")

    @skip_under_valgrind("counts the interval lines of a timed run")
    def test_interval_lines(self):
        """--interval 0.5 over 2 s: the header, then 4 interval lines as they happen
        (requests, requests/s, errors so far), then the report"""
        with serve("echo") as srv:
            t0 = time.monotonic()
            with subprocess.Popen([SOCKIT, "bench", "-c", "2", "-d", "2", "--interval", "0.5",
                                   "%s:%d" % (srv.host, srv.port)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) as proc:
                early = self.read_lines(proc, 2, t0 + 1.5)
                rest, err = proc.communicate(timeout=RUN_TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(len(early), 2, "header and first interval line not seen by 1.5 s")
        lines = early + rest.decode().splitlines()
        ivl = [l for l in lines if l.startswith("  interval")]
        self.assertIn(len(ivl), (4, 5), lines)  # 4 full intervals (+ a sliver at the end)
        self.assertRegex(ivl[0], r"^  interval   0\.00-0\.5\d s   [1-9]\d* requests   "
                         r"[\d.]+/s   errors 0$")
        self.assertTrue(lines[0].startswith("sockit bench "), lines)
        self.assertLess(lines.index(ivl[-1]), lines.index([l for l in lines
                                                           if l.startswith("  measured")][0]))

    def test_interval_bulk_and_json(self):
        """bulk intervals give MiB/s each way; with --json they go to stderr and stdout
        stays one JSON object"""
        with serve("echo") as srv:
            p = bench("--mode", "bulk", "-c", 1, "-d", 1, "--interval", 0.25, "--json",
                      "%s:%d" % (srv.host, srv.port))
        self.assertEqual(p.returncode, 0, p.stderr)
        json.loads(p.stdout)
        err = p.stderr.decode().splitlines()
        ivl = [l for l in err if l.startswith("  interval")]
        self.assertGreaterEqual(len(ivl), 4, err)
        self.assertRegex(ivl[0], r"out [\d.]+ MiB/s   in [\d.]+ MiB/s   errors 0$")


@unittest.skipUnless(loopback_alias_ok("127.0.0.2", "127.0.0.3"),
                     "cannot bind 127.0.0.2 and 127.0.0.3 here")
class BenchSource(Case):
    def test_sources_round_robin(self):
        """two --source: the connections come from 127.0.0.2 and 127.0.0.3 in turn"""
        with Echo() as srv:
            obj = bench_json(self, "--source", "127.0.0.2", "--source", "127.0.0.3", "-c", 4,
                             "-n", 400, srv.addr)
            hosts = sorted(h for h, _ in srv.peers)
        self.assertEqual(obj["requests"], 400)
        self.assertEqual(hosts, ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"])

    def test_sources_on_reconnect(self):
        """connect mode reconnects all the time: every connection from a --source"""
        with Echo() as srv:
            obj = bench_json(self, "--mode", "connect", "--source", "127.0.0.2", "--source",
                             "127.0.0.3", "-c", 2, "-d", 0.3, srv.addr)
            hosts = {h for h, _ in srv.peers}
            n = len(srv.peers)
        self.assertGreater(obj["requests"], 10)
        self.assertGreater(n, 10)
        self.assertEqual(hosts, {"127.0.0.2", "127.0.0.3"})

    def test_source_port(self):
        """--source-port with one connection: the server sees that port"""
        port = free_port()
        with Echo() as srv:
            bench_json(self, "--source", "127.0.0.2", "--source-port", port, "-c", 1, "-n",
                       50, srv.addr)
            peers = list(srv.peers)
        self.assertEqual(peers, [("127.0.0.2", port)])

    def test_source_udp(self):
        """--udp from --source: the datagrams come from it"""
        with LossyUdpEcho(0) as srv:
            obj = bench_json(self, "--udp", "--source", "127.0.0.3", "-c", 2, "-n", 100,
                             srv.addr)
            sources = set(srv.sources)
        self.assertEqual(obj["requests"], 100)
        self.assertEqual(sources, {"127.0.0.3"})

    def test_source_usage(self):
        """--source-port with more connections than source addresses cannot work (exit 2);
        neither applies to Unix sockets; a source of the wrong family fails to connect"""
        for args in (["--source-port", "40000", "-c", "2", "127.0.0.1:1"],
                     ["--source", "127.0.0.2", "--source-port", "40000", "-c", "3",
                      "127.0.0.1:1"],
                     ["--source", "127.0.0.2", "unix:/tmp/x.sock"],
                     ["--source", "", "127.0.0.1:1"]):
            with self.subTest(args=args):
                p = bench(*args, timeout=10)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertTrue(p.stderr.startswith(b"sockit: "), p.stderr)
        with Echo() as srv:
            p = bench("--source", "::1", "-c", 1, "-n", 1, srv.addr, timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"from ::1: no source address of this family", p.stderr)


if __name__ == "__main__":
    main()
