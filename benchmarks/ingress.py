"""The Ingress path against the NodePort path of the same Service, in the same run.

    python benchmarks/ingress.py [--requests 500] [--clients 8] [--seconds 5] [--megabytes 64]

One environment, one pod serving files over HTTP (python3 -m http.server in the demo image: a
small file and a MEGABYTES file) behind a NodePort Service, and an Ingress routing
bench.localhost to it, with TLS from a kubernetes.io/tls Secret made here. Reached three ways:
  - the NodePort on the host (svclb relay -> ClusterIP): the direct path;
  - the Ingress over HTTP (HAProxy -> ClusterIP), Host: bench.localhost;
  - the Ingress over HTTPS (TLS ends in HAProxy), SNI bench.localhost.
For each: the median latency of REQUESTS GETs of the small file on one keep-alive client; the
throughput of CLIENTS keep-alive clients (threads) for SECONDS (requests/s); the download rate
of the big file (MB/s). Prints the figures and the ratios against the NodePort. The controller
publishes on free ports (no 80/443 needed). Creates and removes its own environment.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_environment, wait_until  # noqa: E402
from httpways import Way, download_rate, files_manifest, median_get  # noqa: E402

HOST = "bench.localhost"


def certificate() -> tuple[str, str]:
    """A self-signed certificate for HOST and its key, base64 of PEM (a Secret's data)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256()))
    crt = cert.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return base64.b64encode(crt).decode(), base64.b64encode(pem).decode()


def manifest(megabytes: int) -> str:
    crt, key = certificate()
    return files_manifest(megabytes, "NodePort") + f"""---
apiVersion: v1
kind: Secret
metadata: {{name: bench-tls}}
type: kubernetes.io/tls
data: {{tls.crt: {crt}, tls.key: {key}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: bench}}
spec:
  tls: [{{hosts: [{HOST}], secretName: bench-tls}}]
  rules:
  - host: {HOST}
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: files, port: {{number: 80}}}}}}}}]
"""


def throughput(way: Way, clients: int, seconds: float) -> float:
    counts = [0] * clients
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = way.connection()
        try:
            while time.perf_counter() < deadline:
                way.get(connection, "/small")
                counts[index] += 1
        except Exception as err:  # reported after the run
            errors.append(repr(err))
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{way.name}: {errors[0]}")
    return sum(counts) / elapsed


def served(way: Way) -> bool:
    try:
        connection = way.connection()
        try:
            way.get(connection, "/small")
            return True
        finally:
            connection.close()
    except (OSError, RuntimeError, http.client.HTTPException):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()

    env = bench_environment("bench-ingress")
    env.ingress_ports = (0, 0)  # any free ports: the machine's 80/443 are not ours to take
    with tempfile.TemporaryDirectory() as tmp:
        try:
            objects = Path(tmp) / "bench.yaml"
            objects.write_text(manifest(args.megabytes))
            env.apply([objects], wait=120)
            node_port = int(env.get("svc", "files")[0]["spec"]["ports"][0]["nodePort"])
            ports = None

            def controller_ports() -> object:
                nonlocal ports
                ports = (env.node().get("/v1/status") or {}).get("ingress", {}).get("ports")
                return ports

            wait_until(controller_ports, 60, "the ingress controller")
            assert ports is not None
            host = {"Host": HOST}
            unverified = ssl._create_unverified_context()  # the bench's own certificate
            ways = [Way("NodePort", "127.0.0.1", node_port, headers=host),
                    Way("Ingress (HTTP)", "127.0.0.1", int(ports[0]), headers=host),
                    Way("Ingress (HTTPS)", "127.0.0.1", int(ports[1]), context=unverified,
                        headers=host)]
            for way in ways:
                wait_until(lambda: served(way), 60, f"{way.name} to answer", interval=0.2)
            rows = {}
            print(f"median of {args.requests} GETs of a small file (ms); {args.clients} "
                  f"keep-alive clients for {args.seconds:.0f} s (requests/s); download of "
                  f"{args.megabytes} MiB (MB/s):")
            for way in ways:
                latency = median_get(way, "/small", args.requests) * 1000
                rate = throughput(way, args.clients, args.seconds)
                download = download_rate(way, args.megabytes)
                rows[way.name] = (latency, rate, download)
                print(f"  {way.name:<18} {latency:8.2f} ms {rate:9.0f} req/s "
                      f"{download:9.1f} MB/s")
            base = rows[ways[0].name]
            print("against the NodePort (latency ratio; throughput and download ratios):")
            for way in ways[1:]:
                latency, rate, download = rows[way.name]
                print(f"  {way.name:<18} {latency / base[0]:7.2f}x {rate / base[1]:7.2f}x "
                      f"{download / base[2]:7.2f}x")
        finally:
            env.down()


if __name__ == "__main__":
    main()
