# Long-lived TCP streams through the VIP: N connections, each sending 100 bytes every INTERVAL
# seconds (optional 6th argument, default 0.005) and reading the echo back. Runs until STOPFILE exists, then prints one JSON line: connections
# opened, connections that broke (error, reset, EOF or a stall of 20 s), bytes sent and echoed
# back, and which real served each connection. READYFILE appears once every stream is open.
import json, os, socket, sys, threading, time

vip, port, n, readyfile, stopfile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
interval = float(sys.argv[6]) if len(sys.argv) > 6 else 0.005
lock = threading.Lock()
result = {"conns": 0, "broken": 0, "sent": 0, "received": 0, "reals": {}, "errors": []}
opened = threading.Barrier(n + 1)

def stream(i):
    payload = bytes([i % 256]) * 100
    try:
        s = socket.create_connection((vip, port), timeout=20)
        f = s.makefile("rb")
        real = f.readline().decode().strip()
        with lock:
            result["conns"] += 1
            result["reals"][str(i)] = real
    except OSError as e:
        with lock:
            result["errors"].append("connect %d: %s" % (i, e))
        opened.wait()
        return
    opened.wait()
    sent = received = 0
    try:
        while not os.path.exists(stopfile):
            s.sendall(payload)
            sent += len(payload)
            got = f.read(len(payload))
            if len(got) != len(payload):
                raise OSError("EOF from the real")
            received += len(got)
            time.sleep(interval)
    except OSError as e:
        with lock:
            result["broken"] += 1
            result["errors"].append("stream %d at %.1f: %s" % (i, time.time(), e))
    finally:
        with lock:
            result["sent"] += sent
            result["received"] += received
        s.close()

threads = [threading.Thread(target=stream, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
opened.wait()
open(readyfile, "w").close()
for t in threads:
    t.join()
print(json.dumps(result), flush=True)
