"""Hostile peers against sockit serve, for every model: silent clients, garbage, resets
mid-stream and connect-and-close storms. Each must cost the server that connection and
nothing else: afterwards the server still runs, serves a fresh client correctly and
exits 0 on SIGTERM."""
import socket
import struct
import time

import sktest
from sktest import Case, chargen_expected, connect, each_model, exchange, random_bytes
from sktest import recv_exact, recv_until_eof, reset_close, serve

SERVICES = ("echo", "discard", "chargen", "daytime", "time", "greet")
GARBAGE = (b"\x00" * 100 + random_bytes(4000, seed=7) + b"\xff\xfe\r\n\x00\r\n"
           + b"GET / HTTP/1.0\r\n\r\n" + b"\x00")


@each_model
class HostileTests(Case):
    def assert_serves(self, srv, service):
        """A fresh, well-behaved client gets a correct answer from `service`."""
        with connect(srv.port) as s:
            if service == "echo":
                self.assertEqual(exchange(s, b"still here\n"), b"still here\n")
            elif service == "discard":
                self.assertEqual(exchange(s, b"still here\n"), b"")
            elif service == "chargen":
                self.assertSameBytes(recv_exact(s, 74 * 100), chargen_expected(74 * 100))
            elif service == "daytime":
                got = recv_until_eof(s)
                self.assertTrue(got.endswith(b"\r\n") and got.count(b"\n") == 1, repr(got))
            elif service == "time":
                (t,) = struct.unpack(">I", recv_until_eof(s))
                self.assertLessEqual(abs(t - (int(time.time()) + 2208988800) % (1 << 32)), 2)
            elif service == "greet":
                self.assertEqual(recv_until_eof(s), b"Thank you for connecting")

    def assert_alive_then_stop(self, srv):
        self.assertIsNone(srv.proc.poll(), "server died; log: %r" % srv.log_lines)
        self.assertEqual(srv.stop(), 0, "exit status after SIGTERM; log: %r" % srv.log_lines)

    def each_silent_client(self, model):
        """a client that connects and says nothing: thread/fork serve another client
        meanwhile; iterative serves the next client once the silent one leaves"""
        with serve("echo", model=model) as srv:
            silent = connect(srv.port)
            try:
                srv.wait_log(r"Connection received")  # the silent one has a session
                with connect(srv.port) as s:
                    s.sendall(b"ping")
                    if model == "iterative":
                        s.settimeout(0.5)  # bounded look for an answer that must not come
                        with self.assertRaises(socket.timeout):
                            s.recv(4)
                        s.settimeout(sktest.DEFAULT_TIMEOUT)
                        silent.close()
                    self.assertEqual(recv_exact(s, 4), b"ping")
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_until_eof(s), b"")
            finally:
                silent.close()
            self.assert_alive_then_stop(srv)

    def each_chargen_non_reader(self, model):
        """a chargen client that never reads (the server blocks in send) does not stop
        thread/fork from serving another chargen client; iterative serves it once the
        non-reader leaves"""
        with serve("chargen", model=model) as srv:
            hog = connect(srv.port)
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                srv.wait_log(r"Connection received")
                if model == "iterative":
                    with connect(srv.port) as s:
                        s.settimeout(0.5)  # bounded look for bytes that must not come yet
                        with self.assertRaises(socket.timeout):
                            s.recv(1)
                        hog.close()
                        s.settimeout(sktest.DEFAULT_TIMEOUT)
                        self.assertSameBytes(recv_exact(s, 7400), chargen_expected(7400))
                self.assert_serves(srv, "chargen")
            finally:
                hog.close()
            self.assert_alive_then_stop(srv)

    def each_garbage_to_every_service(self, model):
        """garbage and NUL bytes sent to each service: echo returns them exactly, the others
        ignore them and answer as usual; the server then serves a clean client"""
        for service in SERVICES:
            with self.subTest(service=service), serve(service, model=model) as srv:
                with connect(srv.port) as s:
                    if service == "chargen":
                        s.sendall(GARBAGE)
                        got = recv_exact(s, 74 * 200)
                        self.assertSameBytes(got, chargen_expected(len(got)), "chargen")
                    else:
                        got = exchange(s, GARBAGE, shut_wr=service in ("echo", "discard"))
                        if service == "echo":
                            self.assertSameBytes(got, GARBAGE, "echo of garbage")
                        elif service == "discard":
                            self.assertEqual(got, b"")
                        elif service == "daytime":
                            self.assertTrue(got.endswith(b"\r\n") and got.count(b"\n") == 1,
                                            repr(got))
                        elif service == "time":
                            self.assertEqual(len(got), 4, repr(got))
                        elif service == "greet":
                            self.assertEqual(got, b"Thank you for connecting")
                self.assert_serves(srv, service)
                self.assert_alive_then_stop(srv)

    def each_chargen_drains_input(self, model):
        """chargen reads and drops input while it sends: a client flooding it with 1 MiB
        while reading 1 MiB of the stream is never blocked, and the stream stays exact"""
        n = 1 << 20
        with serve("chargen", model=model) as srv:
            with connect(srv.port, timeout=30) as s:
                got = exchange(s, random_bytes(n, seed=864), shut_wr=False, limit=n)
            self.assertSameBytes(got, chargen_expected(n), "chargen under an input flood")
            self.assert_alive_then_stop(srv)

    def each_reset_during_echo(self, model):
        """a client that sends 1 MiB without reading (the server blocks sending the echo)
        and then resets (SO_LINGER {1,0}) costs the server only that connection"""
        with serve("echo", model=model) as srv:
            s = connect(srv.port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(0.2)
            sent = 0
            try:  # fill both directions until the server is stuck in send
                while sent < (1 << 20):
                    sent += s.send(b"\x00E" * 8192)
            except socket.timeout:
                pass
            self.assertGreater(sent, 0)
            reset_close(s)
            self.assert_serves(srv, "echo")
            self.assert_alive_then_stop(srv)

    def each_reset_during_chargen(self, model):
        """a chargen client that reads a little and then resets costs the server only
        that connection"""
        with serve("chargen", model=model) as srv:
            for _ in range(5):
                s = connect(srv.port)
                self.assertSameBytes(recv_exact(s, 7400), chargen_expected(7400))
                reset_close(s)
            self.assert_serves(srv, "chargen")
            self.assert_alive_then_stop(srv)

    def each_chargen_200_connect_close(self, model):
        """200 connect-and-close cycles against chargen (plain close, close after reading,
        reset) do not kill the server (no SIGPIPE) and it serves a client afterwards"""
        with serve("chargen", model=model) as srv:
            deadline = time.monotonic() + 40
            for i in range(200):
                self.assertLess(time.monotonic(), deadline, "cycle %d: too slow" % i)
                s = connect(srv.port)
                if i % 3 == 1:
                    s.recv(100)
                if i % 3 == 2:
                    reset_close(s)
                else:
                    s.close()
            self.assert_serves(srv, "chargen")
            self.assert_alive_then_stop(srv)

    def each_reset_at_once_every_service(self, model):
        """20 clients per service that connect and reset at once cost the server nothing"""
        for service in SERVICES:
            with self.subTest(service=service), serve(service, model=model) as srv:
                for _ in range(20):
                    reset_close(connect(srv.port))
                self.assert_serves(srv, service)
                self.assert_alive_then_stop(srv)


if __name__ == "__main__":
    sktest.main()
