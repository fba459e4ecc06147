"""services/proxy and pods/proxy through the real kubectl v1.32: `kubectl get --raw` and
`kubectl proxy`, against pods of the demo image (one an echo server written for these tests:
it answers with the method, path, headers and body it received). One environment for the
module."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import DEMO_IMAGE
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, apply_example, kubectl, shared_env)

# The echo server: stdlib only, HTTP/1.1, request bodies read by length or chunked.
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


# ---- kubectl get --raw ----------------------------------------------------------------------

def test_service_by_port_number_reaches_a_backend(kubectl: Kubectl) -> None:
    namespace = kubectl.namespace(f"proxy-ex-{uuid.uuid4().hex[:6]}")
    try:
        apply_example(kubectl, namespace)
        answer = kubectl.out("get", "--raw",
                             base(namespace, "services/backend-service:80") + "/")
        assert re.fullmatch(r"hello from backend-[a-z0-9]+-[a-z0-9]+ \(10\.[0-9.]+\)\n", answer)
    finally:
        kubectl.remove_namespace(namespace)


def test_service_by_port_name_and_scheme_keeps_path_and_query(kubectl: Kubectl,
                                                            echo_ns: str) -> None:
    for name in ("echo:web", "http:echo:web", "echo:80"):
        echo = raw_json(kubectl, base(echo_ns, f"services/{name}") + "/some/path?a=1&b=two")
        assert (echo["method"], echo["path"]) == ("GET", "/some/path?a=1&b=two")
        # kubectl sent its bearer token to the API; the pod never sees it.
        assert "authorization" not in echoed_headers(echo)
        assert echoed_headers(echo)["x-forwarded-uri"] == \
            base(echo_ns, f"services/{name}") + "/some/path"


def test_pod_proxy_with_a_port_and_with_the_first_declared_port(kubectl: Kubectl,
                                                               echo_ns: str) -> None:
    for name in ("echo:8080", "echo", "http:echo:8080"):
        echo = raw_json(kubectl, base(echo_ns, f"pods/{name}") + "/p?q=1")
        assert echo["path"] == "/p?q=1"
        assert "authorization" not in echoed_headers(echo)


@pytest.mark.parametrize("what, words", [
    ("services/missing:80", 'Error from server (NotFound): services "missing" not found'),
    ("services/missing", 'Error from server (NotFound): endpoints "missing" not found'),
    ("services/echo:99",
     'Error from server (ServiceUnavailable): no service port 99 found for service "echo"'),
    ("services/echo:nope",
     'Error from server (ServiceUnavailable): no endpoints available for service "echo:nope"'),
    ("services/lonely:80",
     'Error from server (ServiceUnavailable): no endpoints available for service "lonely"'),
    # The 1.32 API server resolves every Service through its Endpoints, which an ExternalName
    # Service has none of (no selector): it does not proxy to the external name.
    ("services/elsewhere", 'Error from server (NotFound): endpoints "elsewhere" not found'),
    ("services/ftp:echo:80",
     'Error from server (BadRequest): invalid service request "ftp:echo:80"'),
    ("pods/missing:80", 'Error from server (NotFound): pods "missing" not found'),
])
def test_errors_in_the_api_servers_words(kubectl: Kubectl, echo_ns: str, what: str,
                                         words: str) -> None:
    result = kubectl.run("get", "--raw", base(echo_ns, what) + "/", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == words


def test_a_refused_backend_is_503_error_trying_to_reach_service(kubectl: Kubectl,
                                                                echo_ns: str) -> None:
    result = kubectl.run("get", "--raw", base(echo_ns, "services/echo:closed") + "/",
                         check=False)
    assert result.returncode == 1
    assert re.fullmatch(r"Error from server \(ServiceUnavailable\): error trying to reach "
                        r"service: dial tcp 10\.[0-9.]+:8081: connect: connection refused",
                        result.stderr.strip()), result.stderr


# ---- kubectl proxy --------------------------------------------------------------------------

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


def test_kubectl_proxy_every_method_with_bodies_and_no_credentials(
        proxy_port: int, echo_ns: str) -> None:
    path = base(echo_ns, "services/echo:web") + "/api/items?page=2"
    body = bytes(range(256)) * 12_000  # 3 MB
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        sent = body if method in ("POST", "PUT", "PATCH") else None
        # kubectl proxy adds its bearer token (a caller's own Authorization would replace it
        # and be refused by the API): the node must keep it from the pod.
        response, data = call(proxy_port, method, path, sent, {
            "X-Custom": "kept", "Content-Type": "application/octet-stream"})
        assert response.status == 200, data
        echo = json.loads(data)
        assert (echo["method"], echo["path"]) == (method, "/api/items?page=2")
        assert (echo["length"], echo["sha256"]) == (
            (len(sent), hashlib.sha256(sent).hexdigest()) if sent else
            (0, hashlib.sha256(b"").hexdigest()))
        headers = echoed_headers(echo)
        assert "authorization" not in headers
        assert headers["x-custom"] == "kept"


def test_kubectl_proxy_rewrites_html_links_and_redirects(proxy_port: int,
                                                         echo_ns: str) -> None:
    prefix = base(echo_ns, "services/echo:web")
    response, page = call(proxy_port, "GET", prefix + "/page.html")
    assert response.status == 200
    text = page.decode()
    assert f'<a href="{prefix}/docs/">docs</a>' in text
    assert f'<link href="{prefix}/s.css" rel=stylesheet>' in text
    assert '<a href="rel">rel</a>' in text
    assert '<a href="http://example.com/x">out</a>' in text
    assert response.getheader("Content-Length") == str(len(page))

    response, _ = call(proxy_port, "GET", prefix + "/go")
    assert (response.status, response.getheader("Location")) == (302, prefix + "/target/")

    response, _ = call(proxy_port, "GET", prefix + "?x=1")
    assert (response.status, response.getheader("Location")) == (301, prefix + "/?x=1")


def test_kubectl_proxy_streams_the_response(proxy_port: int, echo_ns: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
    try:
        started = time.monotonic()
        connection.request("GET", base(echo_ns, "pods/echo:8080") + "/slow")
        response = connection.getresponse()
        assert response.readline() == b"first\n"
        first = time.monotonic() - started
        assert response.readline() == b"second\n"
        second = time.monotonic() - started
    finally:
        connection.close()
    # The backend waits 2 s between its lines: the first arrives before the second is sent.
    assert first < 1.5 <= second, (first, second)


def test_a_backend_hanging_up_mid_body_cuts_the_callers_answer(proxy_port: int,
                                                                echo_ns: str) -> None:
    prefix = base(echo_ns, "pods/echo:8080")
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
    try:
        # kubectl proxy (Go's ReverseProxy) aborts its own answer when the API's breaks off:
        # the caller sees the connection end early, never a complete answer.
        with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected)):
            connection.request("GET", prefix + "/cut")
            connection.getresponse().read()
    finally:
        connection.close()
    # The node is fine afterwards.
    response, data = call(proxy_port, "GET", prefix + "/after")
    assert json.loads(data)["path"] == "/after"


def test_kubectl_proxy_passes_websockets(proxy_port: int, echo_ns: str) -> None:
    import asyncio

    import aiohttp

    async def talk() -> tuple[str | None, Any, str, bytes]:
        url = f"http://127.0.0.1:{proxy_port}{base(echo_ns, 'services/echo:web')}/ws"
        timeout = aiohttp.ClientWSTimeout(ws_receive=20)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.ws_connect(url, protocols=("echo.v1",), timeout=timeout) as ws:
                headers = json.loads(await ws.receive_str())
                await ws.send_str("hello")
                text = await ws.receive_str()
                await ws.send_bytes(b"\x00\x01" * 40_000)
                data = await ws.receive_bytes()
                return ws.protocol, headers, text, data

    protocol, headers, text, data = asyncio.run(asyncio.wait_for(talk(), 40))
    assert (protocol, text, data) == ("echo.v1", "hello", b"\x00\x01" * 40_000)
    assert "authorization" not in dict(headers)


def test_a_websocket_the_backend_refuses_gets_the_backends_answer(kubectl: Kubectl,
                                                                  echo_ns: str) -> None:
    """Straight to the API (kubectl proxy turns any non-101 answer into its own 500)."""
    import asyncio
    import base64
    import ssl

    import aiohttp

    config = kubectl.env.kubeconfig()
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())

    async def refused() -> int:
        url = f"{cluster['server']}{base(echo_ns, 'services/echo:web')}/plain"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await session.ws_connect(url, ssl=context,
                                         headers={"Authorization": f"Bearer {user['token']}"})
            return caught.value.status

    # The echo server answers /plain with its JSON 200, not 101: that 200 is what comes back.
    assert asyncio.run(asyncio.wait_for(refused(), 40)) == 200


def test_the_request_body_is_streamed_to_the_backend(kubectl: Kubectl, echo_ns: str) -> None:
    """The backend answers the first chunk of a body whose end the caller has not sent yet:
    only a proxy that passes the body on as it comes can deliver that answer."""
    import base64
    import socket
    import ssl
    from urllib.parse import urlsplit

    config = kubectl.env.kubeconfig()
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    server = urlsplit(cluster["server"])
    host = server.hostname or "127.0.0.1"
    path = base(echo_ns, "pods/echo:8080") + "/first-chunk"
    with socket.create_connection((host, server.port or 443), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.settimeout(10)
        tls.sendall(f"POST {path} HTTP/1.1\r\nHost: {server.netloc}\r\n"
                    f"Authorization: Bearer {user['token']}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n".encode())
        answer = b""
        while b"hello\n" not in answer.partition(b"\r\n\r\n")[2]:
            data = tls.recv(65536)  # socket.timeout (a failure) if the answer waits
            assert data, f"connection closed after {answer!r}"
            answer += data
        tls.sendall(b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
