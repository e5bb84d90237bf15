#!/usr/bin/env python3
# seed004_resolve.py: gethostbyname from seed 004 (/work/shared/seeds/004_ae16f101abe553d4.txt),
# ported to Python 3: "ip = socket.gethostbyname('www.google.com'); print ip", with the
# seed's own error handling for it (from its connect-to-google script):
# "except socket.gaierror: ... print 'there was an error resolving the host'; sys.exit()".
#
# Changes from the seed: print statements became print() calls; the name comes from the
# command line (the seed: 'www.google.com'). sys.exit() is kept as written, so a name
# that does not resolve exits 0 after the message (examples/resolve.c exits 1 and writes
# to stderr).
#
# Usage: seed004_resolve.py [NAME]
import socket
import sys

name = sys.argv[1] if len(sys.argv) > 1 else 'www.google.com'  # added

try:
    ip = socket.gethostbyname(name)
except socket.gaierror:
    # this means could not resolve the host
    print("there was an error resolving the host")
    sys.exit()
print(ip)
