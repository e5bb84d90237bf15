"""sockit serve echo under load, for every model: 50 concurrent clients, a 1 MiB
half-close round trip, and the seed's 7 MB message through `sockit connect`."""
import concurrent.futures
import socket
import threading
import time

import sktest
from sktest import SOCKIT, Case, connect, each_model, exchange, random_bytes, recv_exact
from sktest import recv_until_eof, run, serve

CLIENTS = 50
# Iterative clients queue behind each other: the last one waits for all the others.
CLIENT_TIMEOUT = 30.0


@each_model
class LoadTests(Case):
    def each_concurrent_echo(self, model):
        """50 clients connected at once, each sending 32-64 KiB of random bytes while
        reading, all get their own bytes back byte-exact"""
        payloads = [random_bytes(32 * 1024 + (i * 677) % (32 * 1024), seed=i)
                    for i in range(CLIENTS)]
        with serve("echo", model=model) as srv:
            # Connect every client first, then start them together at a barrier, so the
            # sessions overlap (the iterative server queues them in its backlog).
            socks = [connect(srv.port, timeout=CLIENT_TIMEOUT) for _ in range(CLIENTS)]
            barrier = threading.Barrier(CLIENTS, timeout=CLIENT_TIMEOUT)

            def client(i):
                barrier.wait()
                with socks[i] as s:
                    return exchange(s, payloads[i])

            with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
                results = list(pool.map(client, range(CLIENTS), timeout=CLIENT_TIMEOUT * 2))
            for i, (got, want) in enumerate(zip(results, payloads)):
                self.assertSameBytes(got, want, "client %d's echo" % i)
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.stop(), 0)
            received = [ln for ln in srv.log_lines if "Connection received on" in ln]
            self.assertEqual(len(received), CLIENTS, "log: %r" % srv.log_lines)

    def each_sessions_overlap(self, model):
        """thread/fork: 20 clients each get an answer while all 20 stay connected;
        iterative: the second client is answered only after the first has left"""
        with serve("echo", model=model) as srv:
            if model == "iterative":
                with connect(srv.port) as a, connect(srv.port) as b:
                    a.sendall(b"first")
                    self.assertEqual(recv_exact(a, 5), b"first")
                    b.sendall(b"second")
                    b.settimeout(0.5)  # a bounded look for an answer that must not come
                    with self.assertRaises(socket.timeout, msg="iterative served 2 at once"):
                        b.recv(16)
                    b.settimeout(sktest.DEFAULT_TIMEOUT)
                    a.close()
                    self.assertEqual(recv_exact(b, 6), b"second")
            else:
                socks = [connect(srv.port) for _ in range(20)]
                try:
                    for i, s in enumerate(socks):
                        s.sendall(b"%d;" % i)
                    for i, s in enumerate(socks):
                        want = b"%d;" % i
                        self.assertEqual(recv_exact(s, len(want)), want)
                finally:
                    for s in socks:
                        s.close()
            self.assertEqual(srv.stop(), 0)

    def each_half_close_1mib(self, model):
        """a client sends 1 MiB, shuts down its write side, reads back exactly 1 MiB, then EOF"""
        payload = random_bytes(1 << 20, seed=1)
        with serve("echo", model=model) as srv:
            with connect(srv.port, timeout=CLIENT_TIMEOUT) as s:
                got = exchange(s, payload, shut_wr=True, limit=len(payload))
                self.assertSameBytes(got, payload, "1 MiB echo")
                self.assertEqual(recv_until_eof(s), b"", "bytes after the 1 MiB echo")
            self.assertEqual(srv.stop(), 0)

    def each_seed_7mb_message(self, model):
        """the seed's "Message" * 1000000 piped through sockit connect comes back byte-exact"""
        message = b"Message" * 1000000
        with serve("echo", model=model) as srv:
            t0 = time.monotonic()
            p = run([SOCKIT, "connect", "127.0.0.1", str(srv.port)], input=message,
                    timeout=60)
            took = time.monotonic() - t0
            self.assertEqual(p.returncode, 0, "stderr: %r" % p.stderr)
            self.assertEqual(p.stderr, b"")
            self.assertSameBytes(p.stdout, message, "7 MB echo through sockit connect")
            self.assertLess(took, 30, "7 MB round trip took %.1fs" % took)
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    sktest.main()
