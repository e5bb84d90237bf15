#!/usr/bin/env python3
# seed002_browser.py: the browser of seed 002, the Python sockets HOWTO
# (/work/shared/seeds/002_4c0fa8de908d9a2f.txt): "create an INET, STREAMing socket; now
# connect to the web server on port 80", "the socket s can be used to send in a request
# for the text of the page. The same socket will read the reply, and then be destroyed",
# "a client can detect the end of the reply by receiving 0 bytes".
#
# The seed gives only socket() and connect(); the request and the read loop are written
# out as it describes them (the loop is the HOWTO's own: recv until b''). Changes: host,
# port and path come from the command line (the seed: "www.python.org", 80). The request
# is HTTP/1.0, so the server closes after the reply: the end of the reply is the EOF.
# The reply, headers and all, goes to stdout byte for byte.
#
# Usage: seed002_browser.py HOST [PORT] [PATH]   (default port 80, path /)
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "www.python.org"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 80
path = sys.argv[3] if len(sys.argv) > 3 else "/"

# create an INET, STREAMing socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# now connect to the web server on port 80 - the normal http port
s.connect((host, port))

# send in a request for the text of the page
request = "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)
s.sendall(request.encode("ascii"))

# the same socket reads the reply: until recv returns 0 bytes (the server closed)
chunks = []
while True:
    chunk = s.recv(4096)
    if chunk == b'':
        break
    chunks.append(chunk)
# ... and then is destroyed
s.close()
sys.stdout.buffer.write(b''.join(chunks))
