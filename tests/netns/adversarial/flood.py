#!/usr/bin/python3
# Holds many connections to xlbd's control socket and metrics port, as issue 27's client did:
# half of each idle, half sending the start of a request that never ends (slowloris). Prints
# "opened UNIX TCP" once all are open, sleeps, then "closed UNIX TCP": how many xlbd closed.
# usage: flood.py SOCKET_PATH HOST PORT COUNT HOLD_SECONDS
import resource
import select
import socket
import sys
import time

path, host, port, count, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
resource.setrlimit(resource.RLIMIT_NOFILE, (4 * count + 64, 4 * count + 64))


def open_all(make, partial):
    out = []
    for i in range(count):
        s = make()
        s.settimeout(2.0)
        try:
            s.connect(path if s.family == socket.AF_UNIX else (host, port))
            if i % 2:
                s.send(partial)
        except OSError:
            s.close()
            continue
        out.append(s)
    return out


unix = open_all(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), b'{"command":"sta')
tcp = open_all(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
print("opened", len(unix), len(tcp), flush=True)
time.sleep(hold)


def closed(socks):
    """How many the peer closed (after a refusal it may have said why first)."""
    n = 0
    for s in socks:
        p = select.poll()
        p.register(s, select.POLLIN)
        try:
            while p.poll(0):
                if s.recv(4096, socket.MSG_DONTWAIT) == b"":
                    n += 1
                    break
        except OSError:
            n += 1  # reset
    return n


print("closed", closed(unix), closed(tcp), flush=True)
