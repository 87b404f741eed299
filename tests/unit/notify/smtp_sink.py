#!/usr/bin/python3
"""A real SMTP server for xlb's mail tests, built on aiosmtpd.

Every message received is stored as DIR/msg-NNNN.eml (raw) and DIR/msg-NNNN.json (envelope,
decoded headers and body, TLS and AUTH facts). The .json file is renamed into place last, so a
reader that sees it sees a complete message. When listening, the port is written to DIR/port.
The server exits when its stdin closes (the test process died or is done) or on SIGTERM.
"""
import argparse
import email
import email.policy
import email.utils
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, "msg-%04d" % self.count)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            email.utils.parsedate_to_datetime(str(msg["Date"]))
            date_ok = True
        except Exception:
            date_ok = False
        try:
            body = msg.get_content()
        except Exception as exc:  # an undecodable body is a test failure, reported as such
            body = "UNDECODABLE: %r" % exc
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.auth_data.decode() if isinstance(session.auth_data, bytes)
                    else (str(session.auth_data) if session.auth_data else ""),
            "subject": str(msg["Subject"] or ""),
            "raw_headers": raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace"),
            "from": str(msg["From"] or ""),
            "to": str(msg["To"] or ""),
            "date": str(msg["Date"] or ""),
            "date_ok": date_ok,
            "message_id": str(msg["Message-ID"] or ""),
            "content_type": str(msg["Content-Type"] or ""),
            "transfer_encoding": str(msg["Content-Transfer-Encoding"] or ""),
            "body": body,
            "max_line": max(len(line) for line in raw.split(b"\r\n")),
        }
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 2.0.0 stored as %s" % os.path.basename(base)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth", help="user:password; AUTH is then required")
    args = ap.parse_args()

    port = args.port
    if port == 0:
        s = socket.socket()
        s.bind((args.host, 0))
        port = s.getsockname()[1]
        s.close()

    kwargs = {}
    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    if args.tls == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # Implicit TLS is TLS from the first byte; aiosmtpd only counts STARTTLS as TLS.
        kwargs["auth_require_tls"] = args.tls == "starttls"

    controller = Controller(Store(args.dir), hostname=args.host, port=port,
                            ssl_context=context if args.tls == "implicit" else None,
                            server_hostname="localhost", **kwargs)
    if args.tls == "implicit":
        # Controller's readiness probe would speak TLS with the server's own context.
        def trigger():
            probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            probe.check_hostname = False
            probe.verify_mode = ssl.CERT_NONE
            with socket.create_connection((args.host, port), 2.0) as raw_sock:
                with probe.wrap_socket(raw_sock) as tls_sock:
                    tls_sock.recv(1024)
        controller._trigger_server = trigger
    controller.start()
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
