#!/usr/bin/env python3
# seed004_greet_client.py: the greeting client ("Making a client", client.py) of seed 004
# (/work/shared/seeds/004_ae16f101abe553d4.txt), ported to Python 3.
#
# Seed 003's client.py (003_ab2cee0ae555447d.txt) is the same program except that it
# connects to socket.gethostname() instead of '127.0.0.1'; with the host taken from the
# command line the two are identical, so there is no separate seed003_greet_client.py.
#
# Changes from the seed, the fewest that let it run under Python 3 and in a test:
#   - print s.recv(1024) became print(s.recv(1024).decode()): the print statement is
#     Python 2 syntax, and in Python 3 recv returns bytes, which print() would show as
#     b'Thank you for connecting'; decoded, the output is the seed's
#     "Thank you for connecting";
#   - host and port come from the command line (the seed: '127.0.0.1' and 12345).
# As in the seed, ONE recv(1024): the greeting ends by the server's close, and a server
# that wrote it in pieces could be cut short (examples/greet_client.c reads to EOF).
#
# Usage: seed004_greet_client.py [HOST] [PORT]   (default 127.0.0.1 12345)

# Import socket module
import socket
import sys

# Create a socket object
s = socket.socket()

# Define the port on which you want to connect
port = int(sys.argv[2]) if len(sys.argv) > 2 else 12345
host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'  # added

# connect to the server on local computer
s.connect((host, port))

# receive data from the server
print(s.recv(1024).decode())
# close the connection
s.close()
