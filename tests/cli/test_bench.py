"""sockit bench: the load generator against sockit serve (every mode, TCP, UDP, Unix),
against a Python server that corrupts its echo, and against nothing at all. Short runs
(-d 0.5 .. 1, or -n) so the whole file stays well under a minute."""
import json
import os
import socket
import tempfile
import threading

from sktest import SOCKIT, Case, main, run, serve

RUN_TIMEOUT = 30.0
JSON_KEYS = ("rps", "mbps", "latency_us", "errors", "mismatches", "conns", "size",
             "pipeline", "duration_s", "mode")
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
    for k in LATENCY_KEYS:
        case.assertIn(k, obj["latency_us"])
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


class CorruptingEcho:
    """A TCP echo server (a thread per client) that flips one bit of byte 10 of every
    `every`-th `size`-byte block of each client's stream: a broken server for bench to
    catch."""

    def __init__(self, size=64, every=20):
        self.block = size * every
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.lsock.close()
        self.thread.join(5)
        return False

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

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
        self.assertGreater(obj["mbps_out"], 0)
        self.assertGreater(obj["mbps_in"], 0)
        self.assertEqual(obj["mismatches"], 0)
        self.assertLessEqual(obj["bytes_in"], obj["bytes_out"] + 16 * 1024 * 1024)

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
        self.assertEqual(obj["requests"], 2000)

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


if __name__ == "__main__":
    main()
