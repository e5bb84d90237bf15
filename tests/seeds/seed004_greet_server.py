#!/usr/bin/env python3
# seed004_greet_server.py: the greeting server ("Making a server", server.py) of seed 004
# (/work/shared/seeds/004_ae16f101abe553d4.txt), ported to Python 3. Seed 003
# (003_ab2cee0ae555447d.txt) has the same program, bound to gethostname() instead of ''.
#
# Changes from the seed, the fewest that let it run under Python 3 and in a test:
#   - print statements became print() calls (Python 2 syntax is a SyntaxError in 3);
#     print('Got connection from', addr) still prints "Got connection from ('127.0.0.1', 52617)";
#   - c.send('Thank you for connecting') sends b'Thank you for connecting': Python 3's
#     socket.send() takes bytes only (a str raises TypeError);
#   - host and port come from the command line (the seed: '' and 12345); port 0 asks
#     for any free port;
#   - one added line after listen(): "Listening on HOST:PORT" on stderr, the real port,
#     so that tests know the server is ready without sleeping.
# Run it with python3 -u (or PYTHONUNBUFFERED=1) when stdout is a pipe, or the
# "Got connection from" lines sit in Python's buffer.
#
# Usage: seed004_greet_server.py [HOST] [PORT]   (default '' 12345). Runs until killed.

# first of all import the socket library
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else ''  # added: the seed binds ''

# next create a socket object
s = socket.socket()
print("Socket successfully created")

# reserve a port on your computer in our
# case it is 12345 but it can be anything
port = int(sys.argv[2]) if len(sys.argv) > 2 else 12345

# Next bind to the port
# we have not typed any ip in the ip field
# instead we have inputted an empty string
# this makes the server listen to requests
# coming from other computers on the network
s.bind((host, port))
print("socket binded to %s" % (port))

# put the socket into listening mode
s.listen(5)
print("socket is listening")
print("Listening on %s:%d" % s.getsockname()[:2], file=sys.stderr, flush=True)  # added

# a forever loop until we interrupt it or
# an error occurs
while True:
    # Establish connection with client.
    c, addr = s.accept()
    print('Got connection from', addr)

    # send a thank you message to the client.
    c.send(b'Thank you for connecting')
    # Close the connection with the client
    c.close()
