#!/usr/bin/env python3
# seed001_echo_client.py: the "Echo Client" of seed 001 (/work/shared/seeds/001_22d9111d556572c9.txt),
# run under Python 3.
#
# The seed's code is kept as written (it was already Python 3). Added, and nothing else:
#   - print(data.decode("utf-8")): the seed captures the reply ("Capture any information
#     back from the server") but never shows it; it is decoded with the codec the message
#     was encoded with, so the output is the text, not Python 3's b'...' repr;
#   - the __main__ block: host, port and message come from the command line.
#
# As in the seed, ONE recv(BUFFER_SIZE) is made: a long message may come back short
# (seed 002: "there is no EOT"); examples/echo_client.c reads exactly what it sent.
#
# Usage: seed001_echo_client.py [HOST] [PORT] [MESSAGE]   (default 127.0.0.1 5000 "Hello, world")
import socket
import sys

BUFFER_SIZE = 4096


def connect(host, port, message):
    # Create a client socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Connect to a server
    sock.connect((host, port))
    # Send message to the server
    sock.sendall(bytes(message, "utf-8"))
    # Capture any information back
    # from the server
    data = sock.recv(BUFFER_SIZE)
    # Close the connection
    sock.close()
    print(data.decode("utf-8"))  # added


if __name__ == "__main__":
    connect(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1",
            int(sys.argv[2]) if len(sys.argv) > 2 else 5000,
            sys.argv[3] if len(sys.argv) > 3 else "Hello, world")
