#!/usr/bin/env python3
"""bench/udp_loops.py SOCKIT: how long a UDP loop between two servers lasts.

Needs root and ip (iproute2). In a network namespace of its own, with 10.88.0.1/24 on its
loopback device (a network address, so the default reply limit applies), it starts two
`SOCKIT serve SERVICE --udp -v` servers, sends one datagram to B spoofed (raw socket) from
A's address and port, waits 5 s and prints how many datagrams each server answered (the
totals of their Stats lines at exit). A loop that ends settles near the reply burst; one
that does not grows with the wait. Every wait is bounded; the namespace is removed.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

WAIT = 5.0
SPOOF = """
import socket, struct
src, sport, dst, dport = %r, %d, %r, %d
payload = b"start"
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP,
                 0, socket.inet_aton(src), socket.inet_aton(dst))
r.sendto(ip + udp, (dst, 0))
"""


def main():
    sockit = sys.argv[1]
    ns = "skloops-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    run = ["ip", "netns", "exec", ns]
    try:
        subprocess.run(run + ["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(run + ["ip", "addr", "add", "10.88.0.1/24", "dev", "lo"], check=True)
        for pair in (("echo", "chargen"), ("echo", "echo")):
            procs, ports, last = [], [], {}
            for svc in pair:
                p = subprocess.Popen(run + [sockit, "serve", svc, "--udp", "-v", "-l",
                                            "10.88.0.1:0"], stderr=subprocess.PIPE)
                ports.append(int(re.search(rb":(\d+) \(udp\)", p.stderr.readline()).group(1)))
                procs.append(p)

            def drain(i):  # the -v log is one line a datagram: read it all the time
                for line in procs[i].stderr:
                    if b" datagrams" in line:
                        last[i] = int(re.findall(rb"(\d+) datagrams", line)[-1])

            threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            subprocess.run(run + [sys.executable, "-c", SPOOF % ("10.88.0.1", ports[0],
                                                                 "10.88.0.1", ports[1])],
                           check=True, timeout=10)
            time.sleep(WAIT)
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p, t in zip(procs, threads):
                p.wait(30)
                t.join(30)
            print("%s <-> %s: datagrams answered in %.0f s: A %s, B %s"
                  % (pair[0], pair[1], WAIT, last.get(0), last.get(1)))
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
