#!/usr/bin/env python3
# seed001_echo_server.py: the "Echo Server" of seed 001 (/work/shared/seeds/001_22d9111d556572c9.txt),
# run under Python 3.
#
# The seed's code is kept as written (it was already Python 3). Added, and nothing else:
#   - the __main__ block at the end: the seed defines serve(host, port) but never calls it;
#     here host and port come from the command line (port 0: any free port);
#   - one line after listen(): "Listening on HOST:PORT" on stderr, so that tests know the
#     server is ready (and which port it got) without sleeping.
#
# Usage: seed001_echo_server.py [HOST] [PORT]   (default 127.0.0.1 5000)
# It serves ONE client, echoing until the client closes, then exits 0.
import socket
import sys

QUEUE_SIZE = 5
BUFFER_SIZE = 4096


def serve(host, port):
    # Create a server socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Bind socket to host and port
    sock.bind((host, port))
    # Officially become a server socket
    sock.listen(QUEUE_SIZE)
    print("Listening on %s:%d" % sock.getsockname(), file=sys.stderr, flush=True)  # added
    # Accept connection from outside
    client_socket, addr = sock.accept()
    while True:
        data = client_socket.recv(BUFFER_SIZE)
        if not data:
            break
        client_socket.sendall(data)
    # Close the client socket
    client_socket.close()
    # Close the server socket
    sock.close()


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1",
          int(sys.argv[2]) if len(sys.argv) > 2 else 5000)
