"""The dev-loop example app: a standard-library HTTP server on port 8080.

  GET /                   "<VERSION> from <pod name>"  (edit VERSION and save: localsvc rebuilds
                          the image and rolls the Deployment)
  GET /healthz            "ok" (the readinessProbe)
  GET /static/<file>      files under /app/static (synced into the running pod on save, no rebuild)
"""

import http.server
import os
import signal
import socket
import sys
from pathlib import Path

VERSION = "v1"
PORT = int(os.environ.get("PORT", "8080"))
POD = os.environ.get("POD_NAME") or socket.gethostname()
STATIC = Path(__file__).resolve().parent / "static"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, ctype = 200, "text/plain; charset=utf-8"
        if self.path == "/healthz":
            body = b"ok\n"
        elif self.path.startswith("/static/"):
            path = (STATIC / self.path.removeprefix("/static/").split("?", 1)[0]).resolve()
            if path.is_relative_to(STATIC) and path.is_file():
                body = path.read_bytes()
                ctype = "text/html; charset=utf-8" if path.suffix == ".html" else "application/octet-stream"
            else:
                status, body = 404, b"not found\n"
        else:
            body = f"{VERSION} from {POD}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        if self.path != "/healthz":  # keep the streamed logs readable: probes run every 2 s
            print(f"{self.client_address[0]} {fmt % args}", flush=True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    # As PID 1, Python ignores SIGTERM unless it installs a handler: exit at once so a rollout
    # does not wait out the whole grace period.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"app {VERSION} on {POD} listening on :{PORT}", flush=True)
    Server(("", PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()
