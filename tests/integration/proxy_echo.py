"""The services/proxy and pods/proxy tests' backend: an echo server (demo image, stdlib only)
that answers with the method, path, headers and body it received, serves an HTML page (and
one whose gzip encoding is corrupt), a redirect, a slow stream, a body cut short, the first chunk of a body and a WebSocket echo;
its Pod and Services, and helpers to reach them through kubectl, kubectl proxy and the API."""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import DEMO_IMAGE
from tests.integration.kubectl_support import Kubectl

ECHO = r'''
import base64, hashlib, http.server, json, struct, time
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PAGE = (b'<html><head><link href="/s.css" rel=stylesheet></head><body>'
        b'<a href="/docs/">docs</a> <a href="rel">rel</a> '
        b'<a href="http://example.com/x">out</a></body></html>')
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                data += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
    def send(self, code, ctype, data, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
    def frame(self, opcode, payload):
        size = len(payload)
        head = (struct.pack("!BB", 0x80 | opcode, size) if size < 126 else
                struct.pack("!BBH", 0x80 | opcode, 126, size) if size < 65536 else
                struct.pack("!BBQ", 0x80 | opcode, 127, size))
        self.wfile.write(head + payload)
        self.wfile.flush()
    def websocket(self):
        accept = base64.b64encode(hashlib.sha1(
            self.headers["Sec-WebSocket-Key"].encode() + GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if "echo.v1" in self.headers.get("Sec-WebSocket-Protocol", ""):
            self.send_header("Sec-WebSocket-Protocol", "echo.v1")
        self.end_headers()
        self.frame(1, json.dumps([[k.lower(), v] for k, v in self.headers.items()]).encode())
        self.close_connection = True
        while True:
            first, second = self.rfile.read(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self.rfile.read(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if second & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
            if first & 0x0F == 8:
                return self.frame(8, payload[:2])
            self.frame(first & 0x0F, payload)
    def answer(self):
        if (self.headers.get("Upgrade", "").lower() == "websocket"
                and self.path.startswith("/ws")):
            return self.websocket()
        if self.path.startswith("/first-chunk"):  # answers on the body's first chunk
            size = int(self.rfile.readline(), 16)
            first = self.rfile.read(size)
            self.rfile.readline()
            self.close_connection = True
            self.send(200, "text/plain", first, [("Connection", "close")])
            while int(self.rfile.readline().split(b";")[0], 16):  # the rest, then hang up
                self.rfile.readline()
            return
        data = self.body()
        if self.path.startswith("/page"):
            return self.send(200, "text/html; charset=utf-8", PAGE)
        if self.path.startswith("/bad-gzip"):  # says gzip, is not
            return self.send(200, "text/html", b"<a href=/x>not gzip</a>",
                             [("Content-Encoding", "gzip")])
        if self.path.startswith("/go"):
            return self.send(302, "text/plain", b"moved", [("Location", "/target/")])
        if self.path.startswith("/cut"):  # promises 100000 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/slow"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first\n", b"second\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                time.sleep(2)
            self.wfile.write(b"0\r\n\r\n")
            return
        echo = {"method": self.command, "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self.send(200, "application/json", json.dumps(echo).encode())
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
'''


def echo_objects(namespace: str) -> str:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "echo", "namespace": namespace, "labels": {"app": "echo"}},
           "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
               "name": "echo", "image": DEMO_IMAGE, "command": ["python3", "-c", ECHO],
               "ports": [{"name": "http", "containerPort": 8080}],
               "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}
    # "web" reaches the echo server; "closed" a port nothing listens on.
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "echo", "namespace": namespace},
               "spec": {"selector": {"app": "echo"}, "ports": [
                   {"name": "web", "port": 80, "targetPort": 8080},
                   {"name": "closed", "port": 81, "targetPort": 8081}]}}
    lonely = {"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": "lonely", "namespace": namespace},
              "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}}
    elsewhere = {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "elsewhere", "namespace": namespace},
                 "spec": {"type": "ExternalName", "externalName": "example.com"}}
    return str(yaml.safe_dump_all([pod, service, lonely, elsewhere]))


@pytest.fixture(scope="module")
def echo_ns(kubectl: Kubectl) -> Iterator[str]:
    namespace = kubectl.namespace(f"proxy-{uuid.uuid4().hex[:6]}")
    kubectl.run("apply", "-f", "-", stdin=echo_objects(namespace))
    kubectl.run("wait", "-n", namespace, "--for=condition=Ready", "pod/echo", "--timeout=60s",
                request_timeout=None, timeout=70)
    yield namespace
    kubectl.remove_namespace(namespace)


def base(namespace: str, what: str) -> str:
    return f"/api/v1/namespaces/{namespace}/{what}/proxy"


def raw_json(kubectl: Kubectl, path: str) -> Any:
    # No --request-timeout: kubectl would add its timeout=30s to the query, which the proxy
    # passes on like any other parameter (subprocess's timeout still bounds the call).
    return json.loads(kubectl.out("get", "--raw", path, request_timeout=None))


def echoed_headers(echo: dict[str, Any]) -> dict[str, str]:
    return {name: value for name, value in echo["headers"]}


@pytest.fixture(scope="module")
def proxy_port(kubectl: Kubectl) -> Iterator[int]:
    """`kubectl proxy --port=0`: the port it chose, read from its first line."""
    process = subprocess.Popen(kubectl.args(("proxy", "--port=0"), None),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=kubectl.environ())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # kubectl prints it at once, or exits
        found = re.search(r"Starting to serve on 127\.0\.0\.1:(\d+)", line)
        assert found, f"kubectl proxy printed {line!r}"
        yield int(found.group(1))
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def call(port: int, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def api_access(kubectl: Kubectl) -> tuple[str, ssl.SSLContext, str]:
    """The API's URL, a TLS context trusting its CA, and the token: straight to the API."""
    config = kubectl.env.kubeconfig()
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return str(cluster["server"]), context, str(user["token"])
