"""The foreground `up`'s Warning follower (host/eventfollow.py): its lines, and its resume,
reconnect and relist against a real HTTP server on loopback that drops and expires watches."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from localsvc.host.client import NodeClient
from localsvc.host.eventfollow import EventFollower, warning_line, watch_path
from localsvc.runtime.nodeaddress import NodeAddress


def warning(uid: str, version: str, count: int = 1, namespace: str = "default",
            message: str = "Back-off restarting failed container app in pod web_default(u)",
            last: str = "2026-12-07T08:00:00Z") -> dict[str, Any]:
    return {"metadata": {"name": f"web.{uid}", "namespace": namespace, "uid": uid,
                         "resourceVersion": version}, "lastTimestamp": last,
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": namespace},
            "reason": "BackOff", "message": message, "type": "Warning", "count": count}


def test_the_line_of_a_warning() -> None:
    assert warning_line(warning("a", "1")) == (
        "warning  pod/web  BackOff: Back-off restarting failed container app in pod "
        "web_default(u)")
    assert warning_line(warning("a", "1", namespace="shop", message="two\nlines")) == (
        "warning  pod/web -n shop  BackOff: two lines")


def test_the_watch_path_selects_warnings_from_a_version() -> None:
    query = parse_qs(urlparse(watch_path("42")).query)
    assert urlparse(watch_path("42")).path == "/api/v1/events"
    assert query["fieldSelector"] == ["type=Warning"] and query["resourceVersion"] == ["42"]
    assert query["watch"] == ["1"] and int(query["timeoutSeconds"][0]) > 0


class Script:
    """What the server answers, request after request, and what it was asked."""

    def __init__(self, answers: list[tuple[str, bytes]]):
        self.answers = answers
        self.asked: list[str] = []
        self.done = threading.Event()


def serve(script: Script) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            script.asked.append(self.path)
            if not script.answers:
                script.done.set()
                self.send_response(500)
                self.end_headers()
                return
            expected, body = script.answers.pop(0)
            assert expected in self.path, (expected, self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)  # then the connection closes: the watch ends or drops

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def line(kind: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": kind, "object": obj}) + "\n").encode()


def test_the_follower_resumes_a_dropped_watch_and_lists_again_after_410() -> None:
    # At 08:01:30: "old" is from 08:00:00, "recent" from 08:00:45 (printed from the list).
    listing = json.dumps({"items": [warning("old", "3"),
                                    warning("recent", "4", last="2026-12-07T08:00:45Z")],
                          "metadata": {"resourceVersion": "5"}}).encode()
    gone = {"kind": "Status", "code": 410, "reason": "Expired"}
    script = Script([
        ("fieldSelector=type%3DWarning", listing),
        # A watch cut in the middle of a line (the node restarted): resumed from version 6.
        ("resourceVersion=5", line("ADDED", warning("a", "6")) + b'{"type": "ADD'),
        ("resourceVersion=6", line("ERROR", gone)),  # too old now: list again
        ("fieldSelector=type%3DWarning", json.dumps({"items": [warning("a", "6")],
                                                     "metadata": {"resourceVersion": "9"}}
                                                    ).encode()),
        ("resourceVersion=9", line("MODIFIED", warning("a", "10", count=2))
         + line("MODIFIED", warning("a", "10", count=2))),  # the same count again: once
    ])
    server = serve(script)
    printed: list[str] = []
    stopped = threading.Event()
    node = NodeClient(NodeAddress(f"http://127.0.0.1:{server.server_address[1]}", "t"),
                      timeout=5)
    follower = EventFollower(lambda: node, printed.append, stopped,
                             clock=lambda: 1796630490.0)  # 2026-12-07T08:01:30Z
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        assert script.done.wait(10), script.asked
    finally:
        stopped.set()
        thread.join(5)
        server.shutdown()
        server.server_close()
    assert not thread.is_alive()
    assert len(printed) == 3, (printed, script.asked)  # "old": long before, not printed
    assert all(p.startswith("warning  pod/web  BackOff: ") for p in printed)
    assert follower.version == "10"


def test_close_ends_a_watch_blocked_in_its_read_and_its_connection() -> None:
    # Regression: the follower sat in a blocking read of its watch (up to the client's timeout)
    # with the connection open after it was told to stop.
    listing = json.dumps({"items": [], "metadata": {"resourceVersion": "5"}}).encode()
    watching = threading.Event()
    released = threading.Event()
    hung_up = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if "watch=1" not in self.path:
                self.send_response(200)
                self.send_header("Content-Length", str(len(listing)))
                self.end_headers()
                self.wfile.write(listing)
                return
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            watching.set()
            self.connection.settimeout(10)
            try:  # the client sends nothing more: EOF when it hangs up
                data = self.connection.recv(1)
            except OSError:
                data = b""
            if data == b"":
                hung_up.set()
            released.wait(10)
            self.close_connection = True

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    node = NodeClient(NodeAddress(f"http://127.0.0.1:{server.server_address[1]}", "t"),
                      timeout=30)
    follower = EventFollower(lambda: node, lambda line: None, threading.Event())
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        assert watching.wait(5)
        thread.join(0.3)
        assert thread.is_alive()  # blocked in the watch's read
        follower.close()
        thread.join(3)
        assert not thread.is_alive()
        assert hung_up.wait(3)  # the connection was closed, not left open
    finally:
        released.set()
        server.shutdown()
        server.server_close()
