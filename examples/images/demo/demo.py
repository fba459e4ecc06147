"""A tiny multi-purpose demo app for localsvc's examples and tests (standard library only).

  demo.py serve [--port 80]          HTTP: GET / answers "hello from <pod> (<ip>)"; /healthz
                                     answers 503 while the file /tmp/unready exists
  demo.py client URL [--interval 1]  fetch URL forever, print each answer (or the error)
  demo.py tcp-echo [--port 7]        echo every TCP connection back
  demo.py udp-echo [--port 7]        echo every UDP datagram back, prefixed with the pod name

It exits at once on SIGTERM (as PID 1 a Python process would otherwise ignore it and wait out
the whole grace period).
"""

import argparse
import http.server
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.request

POD = os.environ.get("POD_NAME") or socket.gethostname()
UNREADY_FILE = "/tmp/unready"


def _exit_on_term() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status = 200
        if self.path == "/healthz":
            # A switch to make this pod unready on demand (`touch /tmp/unready` inside it), as
            # the browser tests and a demo of readiness do; removing the file makes it ready.
            if os.path.exists(UNREADY_FILE):
                status, body = 503, b"unready: /tmp/unready exists\n"
            else:
                body = b"ok\n"
        else:
            ip = self.connection.getsockname()[0]
            body = f"hello from {POD} ({ip})\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        if os.environ.get("DEMO_ACCESS_LOG", "1") == "1":
            sys.stdout.write(f"{self.client_address[0]} {fmt % args}\n")
            sys.stdout.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 resets a burst of connections (benchmarks, tests)


def serve(port: int) -> None:
    print(f"{POD} serving HTTP on port {port}", flush=True)
    Server(("", port), Handler).serve_forever()


def client(url: str, interval: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                print(resp.read().decode().strip(), flush=True)
        except Exception as err:  # keep going: the point is to show what happens
            print(f"error: {err}", flush=True)
        time.sleep(interval)


class EchoTCP(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def tcp_echo(port: int) -> None:
    print(f"{POD} echoing TCP on port {port}", flush=True)
    EchoServer(("", port), EchoTCP).serve_forever()


def udp_echo(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", port))
    print(f"{POD} echoing UDP on port {port}", flush=True)
    while True:
        data, addr = sock.recvfrom(65536)
        sock.sendto(POD.encode() + b" " + data, addr)


def main() -> None:
    _exit_on_term()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode, default in (("serve", 80), ("tcp-echo", 7), ("udp-echo", 7)):
        p = sub.add_parser(mode)
        p.add_argument("--port", type=int, default=int(os.environ.get("PORT", default)))
    p = sub.add_parser("client")
    p.add_argument("url")
    p.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    if args.mode == "client":
        client(args.url, args.interval)
    elif args.mode == "serve":
        serve(args.port)
    elif args.mode == "tcp-echo":
        tcp_echo(args.port)
    else:
        udp_echo(args.port)


if __name__ == "__main__":
    threading.current_thread().name = "main"
    main()
