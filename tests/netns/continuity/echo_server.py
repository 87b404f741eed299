# A real server for the continuity tests: on connect it sends its name and a newline, then
# echoes every byte back until the client closes. An optional third argument "6" listens on
# IPv6 (::, IPv6 only) instead of IPv4.
import socket, sys, threading

name, port = sys.argv[1].encode(), int(sys.argv[2])

def serve(conn):
    # Health checks connect and reset; a client that goes away is not an error here.
    with conn:
        try:
            conn.sendall(name + b"\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        except OSError:
            return

v6 = len(sys.argv) > 3 and sys.argv[3] == "6"
srv = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if v6:
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
srv.bind(("::" if v6 else "0.0.0.0", port))
srv.listen(256)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
