"""What the ingress integration tests share: the backends, HTTP(S) requests to the controller
on 127.0.0.1 with a Host header (and SNI), a certificate made for a test, an environment whose
controller listens on free high ports (80/443 may be held by anything on a shared machine)."""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localsvc.host.api import Environment
from tests.integration.conftest import free_port, unique_env, wait_for

TIMEOUT = 10.0
# web and api: the demo app (answers "hello from <pod>"); slow: sleeps /slow/SECONDS first.
BACKENDS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "localsvc-examples/demo:1", args: [serve, --port, "8080"],
                    env: [{name: DEMO_ACCESS_LOG, value: "0"}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "localsvc-examples/demo:1", args: [serve, --port, "8080"],
                    env: [{name: DEMO_ACCESS_LOG, value: "0"}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      containers:
      - name: slow
        image: "localsvc-examples/demo:1"
        command: [python3, -c]
        args:
        - |
          import http.server, time
          class H(http.server.BaseHTTPRequestHandler):
              def do_GET(self):
                  time.sleep(float(self.path.rsplit("/", 1)[-1] or 0))
                  body = b"slow done\\n"
                  self.send_response(200)
                  self.send_header("Content-Length", str(len(body)))
                  self.end_headers()
                  self.wfile.write(body)
          http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
---
apiVersion: v1
kind: Service
metadata: {name: slow}
spec:
  selector: {app: slow}
  ports: [{port: 80, targetPort: 8080}]
"""


def ingress_env(node_image: str, http: int | None = None,
                https: int | None = None) -> Environment:
    """An environment whose controller asks for free high ports (or the given ones)."""
    http = http if http is not None else free_port(40000, 49000)
    https = https if https is not None else free_port(40000, 49000, avoid={http})
    return Environment(unique_env("ing"), node_image=node_image, ingress_ports=(http, https))


@pytest.fixture(scope="module")
def backend_env(node_image: str, demo_image: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """An environment running web, api and slow (Ready), and no Ingress yet."""
    env = ingress_env(node_image)
    try:
        path = tmp_path_factory.mktemp("backends") / "backends.yaml"
        path.write_text(BACKENDS)
        env.up([path], wait=90)
        yield env
    finally:
        env.down()


def controller_ports(env: Environment, timeout: float = 30) -> tuple[int, int]:
    """The controller's host ports, once it runs."""
    ports = wait_for(lambda: (env.node().get("/v1/status") or {}).get("ingress", {}).get(
        "ports"), timeout=timeout, what="the ingress controller")
    return int(ports[0]), int(ports[1])


def get(port: int, host: str, path: str = "/", timeout: float = TIMEOUT) -> tuple[int, str]:
    """GET http://HOST{path} sent to 127.0.0.1:port: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def get_tls(port: int, host: str, cafile: Path | None, path: str = "/") -> tuple[int, str]:
    """GET https://HOST{path} on 127.0.0.1:port with SNI HOST, verified against `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else \
        ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=context)
    # SNI and verification use the Host name, the socket goes to 127.0.0.1.
    conn.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port),
                                                             timeout=TIMEOUT),
                                    server_hostname=host)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def served_certificate(port: int, sni: str) -> x509.Certificate:
    context = ssl._create_unverified_context()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def make_certificate(hosts: list[str]) -> tuple[bytes, bytes]:
    """A self-signed certificate for `hosts` (SANs) and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def first_line(body: str) -> str:
    return body.strip().splitlines()[0] if body.strip() else ""


def served_by(answer: tuple[int, str]) -> str:
    """Which Deployment answered: "web", "api", "slow", or the status and body."""
    status, body = answer
    if status == 200 and body.startswith("hello from "):
        return body.split()[2].split("-")[0]
    if status == 200 and body.startswith("slow done"):
        return "slow"
    return f"{status} {first_line(body)}"


def answered(call: Any) -> str:
    """served_by(call()), or the error while the controller is (re)starting."""
    try:
        return served_by(call())
    except (OSError, http.client.HTTPException) as err:
        return f"error {err!r}"


def events_of(env: Environment, name: str) -> list[Any]:
    return [e for e in env.get("events", None, "default")
            if (e.get("involvedObject") or {}).get("name") == name]
