"""The API's services/proxy: what reaching a Service through the Kubernetes API costs.

    python benchmarks/kubeproxy.py [--megabytes 64] [--requests 300]

One environment, one pod serving files over HTTP (python3 -m http.server in the demo image: a
small text file, its directory listing as HTML, and a MEGABYTES file), behind a LoadBalancer
Service, reached three ways in the same run:
  - the published LoadBalancer port on the host (Docker's port publishing): the direct path;
  - the API: https://NODE/api/v1/namespaces/default/services/files:80/proxy/... with the
    environment's token (localsvc/node/kubeapi/proxy.py);
  - `kubectl proxy` (v1.32) in front of the API, as a browser would use it.
For each: the median time of REQUESTS GETs of the small file, and of the HTML listing (which
the proxy reads whole to rewrite its links), each on one keep-alive client; and the download
rate of the big file (MB/s). Prints medians and the ratios against the direct path. Creates
and removes its own environment.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import yaml
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_environment, write_kubeconfig  # noqa: E402
from httpways import Way, download_rate, files_manifest, median_get  # noqa: E402


KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
PROXY_PATH = "/api/v1/namespaces/default/services/files:80/proxy"


def started_kubectl_proxy(kube_env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([KUBECTL, "proxy", "--port=0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=kube_env)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not found:
        process.kill()
        raise RuntimeError(f"kubectl proxy printed {line!r}")
    return process, int(found.group(1))


def api_way(kubeconfig: dict[str, object]) -> Way:
    cluster = kubeconfig["clusters"][0]["cluster"]  # type: ignore[index]
    user = kubeconfig["users"][0]["user"]  # type: ignore[index]
    server = urlsplit(cluster["server"])
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return Way("API services/proxy", server.hostname or "127.0.0.1", int(server.port or 443),
               PROXY_PATH, context, {"Authorization": f"Bearer {user['token']}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    env = bench_environment("bench-proxy")
    kubectl: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            env.ensure()
            objects = Path(tmp) / "files.yaml"
            objects.write_text(files_manifest(args.megabytes, "LoadBalancer"))
            env.apply([objects], wait=120)
            published = urlsplit(env.service_url("files"))
            kubeconfig = write_kubeconfig(env, Path(tmp) / "kubeconfig")
            config = yaml.safe_load(kubeconfig.read_text())
            kube_env = {**os.environ, "KUBECONFIG": str(kubeconfig),
                        "KUBECACHEDIR": str(Path(tmp) / "cache")}
            kubectl, kubectl_port = started_kubectl_proxy(kube_env)
            ways = [Way("published LoadBalancer port", published.hostname or "127.0.0.1",
                          int(published.port or 80), ""),
                    api_way(config),
                    Way("kubectl proxy", "127.0.0.1", kubectl_port, PROXY_PATH)]
            rows = {}
            print(f"median of {args.requests} GETs (ms): small file, HTML listing; "
                  f"download of {args.megabytes} MiB (MB/s):")
            for way in ways:
                small = median_get(way, "/small", args.requests) * 1000
                listing = median_get(way, "/", args.requests) * 1000
                rate = download_rate(way, args.megabytes)
                rows[way.name] = (small, listing, rate)
                print(f"  {way.name:<28} {small:8.2f} ms {listing:8.2f} ms {rate:9.1f} MB/s")
            base_small, base_listing, base_rate = rows[ways[0].name]
            print("against the published port (time ratios; rate ratio):")
            for way in ways[1:]:
                small, listing, rate = rows[way.name]
                print(f"  {way.name:<28} {small / base_small:7.2f}x {listing / base_listing:7.2f}x"
                      f" {rate / base_rate:7.2f}x")
        finally:
            if kubectl is not None and kubectl.poll() is None:
                kubectl.terminate()
                try:
                    kubectl.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    kubectl.kill()
                    kubectl.wait(timeout=10)
            env.down()


if __name__ == "__main__":
    main()
