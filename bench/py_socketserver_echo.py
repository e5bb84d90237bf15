#!/usr/bin/env python3
"""A minimal socketserver echo server (stdlib only), for bench/compare.

    py_socketserver_echo.py [PORT]

Listens on 127.0.0.1:PORT (0, the default: any free port), prints
"Listening on 127.0.0.1:PORT" on stderr when ready; ThreadingTCPServer, a thread per
client that recv()s up to 16 KiB and sendall()s it back until EOF.
"""
import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        while True:
            data = sock.recv(16384)
            if not data:
                return
            sock.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 4096


if __name__ == "__main__":
    with Server(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Echo) as srv:
        print("Listening on 127.0.0.1:%d" % srv.server_address[1], file=sys.stderr, flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass
