"""What the HTTP benchmarks share: a pod serving a small and a big file, and ways to reach it
(each a connection factory, a path prefix and headers) with their latency and download rate."""

from __future__ import annotations

import http.client
import ssl
import statistics
import time

from common import DEMO


def files_manifest(megabytes: int, service_type: str) -> str:
    """A pod serving /small and a MEGABYTES /big (python3 -m http.server in the demo image)
    behind a Service `files` of `service_type`, port 80."""
    script = (f"head -c {megabytes}M /dev/urandom > /srv/big && echo hello > /srv/small && "
              "cd /srv && exec python3 -m http.server 80")
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: files, labels: {{app: files}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: files
    image: {DEMO}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /srv && {script}"]
    readinessProbe: {{httpGet: {{path: /small, port: 80}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: files}}
spec:
  type: {service_type}
  selector: {{app: files}}
  ports: [{{port: 80, targetPort: 80}}]
"""


class Way:
    """One way to the files: where to connect (TLS with `context`), the path prefix of the
    pod's root, and the headers every request carries."""

    def __init__(self, name: str, host: str, port: int, prefix: str = "",
                 context: ssl.SSLContext | None = None,
                 headers: dict[str, str] | None = None):
        self.name, self.host, self.port, self.prefix = name, host, port, prefix
        self.context, self.headers = context, headers or {}

    def connection(self) -> http.client.HTTPConnection:
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=60,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def get(self, connection: http.client.HTTPConnection, path: str) -> bytes:
        connection.request("GET", self.prefix + path, headers=self.headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: GET {path} answered {response.status}: "
                               f"{body[:200]!r}")
        return body


def median_get(way: Way, path: str, requests: int) -> float:
    """The median seconds of `requests` GETs of `path` on one keep-alive connection."""
    connection = way.connection()
    try:
        way.get(connection, path)  # warm up (and the TLS handshake)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            way.get(connection, path)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        connection.close()


def download_rate(way: Way, megabytes: int) -> float:
    """MB/s of one GET of /big (checked to be MEGABYTES long)."""
    connection = way.connection()
    try:
        started = time.perf_counter()
        body = way.get(connection, "/big")
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if len(body) != megabytes * 1024 * 1024:
        raise RuntimeError(f"{way.name}: {len(body)} bytes instead of {megabytes} MiB")
    return megabytes / elapsed
