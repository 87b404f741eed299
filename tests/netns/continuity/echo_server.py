# A real server for the continuity tests: on connect it sends its name and a newline, then
# echoes every byte back until the client closes.
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

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(256)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
