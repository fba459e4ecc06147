"""The node process's first instructions: start making the environment's certificates, then load
the rest of the node.

The certificates come from a child process (`python -m localsvc.runtime.pki`, so that
`cryptography` never stays resident in the node) that the node must wait for before it serves.
Started here, before the node imports aiohttp, docker and its controller (most of its start-up
time), the child runs alongside those imports instead of after them. Only light modules are
imported before it starts.

Those imports skip the system's CA bundle (`without_ca_bundle`): aiohttp makes its default
verifying TLS context as it is imported, and loading the bundle into it costs ~0.07 s of CPU
(OpenSSL 3 parses the ~140 certificates), before the node serves. The node verifies no public
certificate: its aiohttp clients talk plain HTTP (the Docker engine) or TLS without
verification (the API server's proxy to pods, as Kubernetes' does), its own CA is loaded
explicitly (runtime/tls.py), and TLS contexts made after the imports load the bundle as usual.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from localsvc.model.allocation import kubernetes_ip
from localsvc.model.network import plan_for
from localsvc.model.nodeconfig import PKI_DIR, NodeConfig


def pki_command(config: NodeConfig) -> list[str]:
    """The child's command line: check (or make) the CA and serving certificate in the state
    volume for this node's names and addresses."""
    cluster_range = str(plan_for(config.subnet).cluster_ip_range)
    return [sys.executable, "-m", "localsvc.runtime.pki", str(config.state_dir / PKI_DIR),
            config.env, config.node_ip, kubernetes_ip(cluster_range), config.cluster_domain]


@contextmanager
def without_ca_bundle() -> Iterator[None]:
    """TLS contexts made meanwhile with the default verify paths load no CA certificates
    (SSL_CERT_FILE, which OpenSSL reads then, names an empty file); restored after."""
    before = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = os.devnull
    try:
        yield
    finally:
        if before is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = before


def main() -> int:
    config = NodeConfig.from_environ()
    pki = subprocess.Popen(pki_command(config))
    with without_ca_bundle():
        from localsvc.node.main import run_node  # the heavy imports, while the child works

    return run_node(config, pki)
