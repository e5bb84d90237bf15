"""Torture for sockit serve under every model, over TCP and over Unix stream sockets
(issue 6 section 4; the other hostile peers are in test_hostile.py and test_framing.py):

- idle connections: 10 000 under the loop model (1 000 under thread, 100 under fork:
  a thread or a process per client), all accepted (the server's own count), a sample
  answering, a fresh client served meanwhile, and the server's memory per idle
  connection printed (loop: at most 2 KiB each); iterative, which serves one client at a
  time, leaves 100 idle clients in the kernel's backlog and must get through them all;
- randomized echo: tests/tools/echo_torture sends 1 GiB (64 MiB in a sanitizer build)
  over 8 connections in writes and reads of random sizes and checks every byte and a
  64-bit checksum of both directions.

Every wait is bounded; everything is on loopback or in a private directory.
"""
import os
import resource
import signal
import time
import zlib

import sktest
from sktest import Case, LogPump, connect_addr, each_model_transport, listen_addr, serve

SANITIZER = os.environ.get("SOCKIT_SANITIZER", "")
VALGRIND = getattr(sktest, "VALGRIND_SCALE", 0)

# Idle connections per model: one socket each under loop (and iterative, where they wait
# in the backlog), a thread (a 256 KiB stack, an eventfd) under thread, a process under fork.
IDLE = {"loop": 10000, "iterative": 100, "thread": 1000, "fork": 100}
if SANITIZER or VALGRIND:  # a sanitizer's thread and fork costs are many times higher
    IDLE.update(thread=200, fork=50)
if VALGRIND:
    IDLE.update(loop=1000)
LOOP_TARGET = 2048  # bytes of server RSS per idle connection under --model loop

MIB = 1 << 20
ECHO_BYTES = (8 * MIB if VALGRIND else 64 * MIB) if (SANITIZER or VALGRIND) else 1024 * MIB
ECHO_CONNS = 8


def tool(name):
    """A program of tests/tools, built into the build tree's tests/ directory."""
    here = os.path.dirname(os.path.abspath(sktest.EXAMPLES))
    cands = [os.environ.get("SOCKIT_" + name.upper(), ""),
             os.path.join(here, "tests", name),  # EXAMPLES is BUILD/examples
             os.path.join(here, "..", "..", "tests", name),  # BUILD/valgrind/bin/examples
             os.path.join(os.path.dirname(os.path.abspath(sktest.SOCKIT)), "tests", name)]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    raise AssertionError("%s not built (looked in %r)" % (name, [c for c in cands if c]))


def pss_tree_kb(pid):
    """Proportional set size of process pid and its children, in KiB: what a fork model
    really costs (its children share most pages with it)."""
    total = 0
    for p in [pid] + sktest.child_pids(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def stats(srv, pump, timeout=sktest.DEFAULT_TIMEOUT):
    """(accepted, active) from a fresh SIGUSR1 report of the server."""
    start = len(srv.log_lines)
    srv.signal(signal.SIGUSR1)
    m = pump.wait(r"Stats: (\d+) connections \((\d+) active", start=start, timeout=timeout)[0]
    return int(m.group(1)), int(m.group(2))


def wait_stats(srv, pump, accepted=None, active=None, timeout=60):
    """Ask for the server's count until it reads `accepted` / `active` (there is no
    readiness signal for 'all accepted'); return the last (accepted, active)."""
    last = []

    def ok():
        last[:] = stats(srv, pump)
        return ((accepted is None or last[0] == accepted)
                and (active is None or last[1] == active))

    if not sktest.wait_until(ok, timeout=timeout, interval=0.05):
        raise AssertionError("server stats (accepted, active) = %r, want (%r, %r)"
                             % (tuple(last), accepted, active))
    return tuple(last)


def raise_nofile(case, need):
    """Raise this process's soft RLIMIT_NOFILE to `need` (the server inherits it), or skip
    the test visibly when the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))  # root may
            return
        except (ValueError, OSError):
            msg = "RLIMIT_NOFILE hard limit %d < %d needed" % (hard, need)
            print("SKIP: " + msg)
            case.skipTest(msg)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def round_trip(case, s, payload=b"idle?\x00\n"):
    s.sendall(payload)
    case.assertEqual(sktest.recv_exact(s, len(payload)), payload)


@each_model_transport()
class IdleConnections(Case):
    def each_idle_connections(self, model, transport):
        """many idle clients at once (loop 10 000, thread 1 000, fork 100): the server
        accepts every one (its own count), a sample of them and a fresh client get round
        trips, RSS per idle connection is printed (loop: at most 2 KiB); iterative gets
        through 100 idle clients waiting in its backlog once they leave"""
        n = IDLE[model]
        raise_nofile(self, n + 200)
        # n is each model's default --max-conns: room for the sample's newcomer too.
        with serve("echo", "--max-conns", str(n + 10), model=model,
                   addr=listen_addr(transport)) as srv:
            addr = srv.addrs[0]
            conns = []
            try:
                with LogPump(srv) as pump:
                    with connect_addr(addr, named=False) as s:  # the first session's allocations
                        round_trip(self, s)
                    wait_stats(srv, pump, accepted=1, active=0)
                    rss0, pss0 = sktest.rss_kb(srv.proc.pid), pss_tree_kb(srv.proc.pid)
                    if model == "iterative":
                        self.iterative_backlog(srv, pump, addr, n, conns)
                    else:
                        self.idle(srv, pump, addr, n, conns, model, transport, rss0, pss0)
                    for s in conns:
                        s.close()
                    wait_stats(srv, pump, accepted=n + 2, active=0)
            finally:
                for s in conns:
                    s.close()
            self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines[-5:])
            self.assertEqual(srv.stop(), 0, srv.log_lines[-5:])
            self.assertEqual(sktest.sanitizer_reports(srv.log_lines), [])

    def idle(self, srv, pump, addr, n, conns, model, transport, rss0, pss0):
        batch = 500  # then let the server catch up, so that the backlog never overflows
        while len(conns) < n:
            for _ in range(min(batch, n - len(conns))):
                conns.append(connect_addr(addr, named=False))
            wait_stats(srv, pump, accepted=len(conns) + 1, active=len(conns))
        rss1, pss1 = sktest.rss_kb(srv.proc.pid), pss_tree_kb(srv.proc.pid)
        per_conn = (rss1 - rss0) * 1024 / n
        per_conn_pss = (pss1 - pss0) * 1024 / n
        sample = conns[::max(1, n // 100)]
        for s in sample:
            round_trip(self, s)
        t0 = time.monotonic()
        with connect_addr(addr, named=False) as s:  # a newcomer is served meanwhile
            round_trip(self, s)
        print("  %s over %s: %d idle connections: server RSS %d -> %d KiB, %.0f bytes per "
              "idle connection (PSS of the server and its children: %.0f bytes); %d sampled "
              "round trips; a new client's round trip took %.1f ms"
              % (model, transport, n, rss0, rss1, per_conn, per_conn_pss, len(sample),
                 (time.monotonic() - t0) * 1000))
        if model == "loop" and not (SANITIZER or VALGRIND):
            self.assertLessEqual(per_conn, LOOP_TARGET,
                                 "server RSS per idle connection under --model loop: %.0f "
                                 "bytes (%d -> %d KiB for %d), target %d"
                                 % (per_conn, rss0, rss1, n, LOOP_TARGET))

    def iterative_backlog(self, srv, pump, addr, n, conns):
        for _ in range(n):
            conns.append(connect_addr(addr, named=False))
        accepted, active = wait_stats(srv, pump, accepted=2, active=1)
        print("  iterative: %d idle clients: the server holds 1 (accepted %d, active %d), "
              "the rest wait in the kernel's backlog" % (n, accepted, active))
        round_trip(self, conns[0])  # the one being served
        conns[0].close()
        round_trip(self, conns[1])  # the next in line
        for s in conns:
            s.close()
        del conns[:]
        with connect_addr(addr, named=False) as s:  # served once the leavers are gone
            round_trip(self, s)


@each_model_transport()
class RandomizedEcho(Case):
    def each_randomized_echo(self, model, transport):
        """1 GiB (64 MiB under a sanitizer) of pseudo-random bytes over 8 connections, in
        writes and reads of random sizes: every byte comes back in order (regenerated and
        compared) and the 64-bit checksums of both directions match"""
        seed = zlib.crc32(("%s/%s" % (model, transport)).encode())
        if ECHO_BYTES < 1024 * MIB:
            print("  scaled down to %d MiB (%s)" % (ECHO_BYTES // MIB,
                                                    "valgrind" if VALGRIND else
                                                    "sanitizer " + SANITIZER))
        limit = 300
        with serve("echo", model=model, addr=listen_addr(transport)) as srv:
            r = sktest.run([tool("echo_torture"), "-c", str(ECHO_CONNS), "-n", str(ECHO_BYTES),
                            "-s", str(seed), "-t", str(limit), "-q", srv.addrs[0]],
                           timeout=limit + 30)
            out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
            print("  %s over %s (seed %d): %s" % (model, transport, seed, out.strip()))
            self.assertEqual(r.returncode, 0, "echo_torture: %s%s" % (out, err))
            self.assertIn("%d bytes sent, %d echoed and verified" % (ECHO_BYTES, ECHO_BYTES), out)
            self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines[-5:])
            self.assertEqual(srv.stop(), 0, srv.log_lines[-5:])
            self.assertEqual(sktest.sanitizer_reports(srv.log_lines), [])
            closed = [l for l in srv.log_lines if l.startswith("Closed ")]
            self.assertEqual(len(closed), ECHO_CONNS, closed)
            for line in closed:  # each session ended cleanly, with the bytes it carried
                self.assertRegex(line, r"^Closed \S+: (\d+) bytes in, \1 bytes out, \S+ s$")


if __name__ == "__main__":
    sktest.main()
