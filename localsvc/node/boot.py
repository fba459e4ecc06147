"""The node process's first instructions: start making the environment's certificates, then load
the rest of the node.

The certificates come from a child process (`python -m localsvc.runtime.pki`, so that
`cryptography` never stays resident in the node) that the node must wait for before it serves.
Started here, before the node imports aiohttp, docker and its controller (most of its start-up
time), the child runs alongside those imports instead of after them. Only light modules are
imported before it starts.
"""

from __future__ import annotations

import subprocess
import sys

from localsvc.model.allocation import kubernetes_ip
from localsvc.model.network import plan_for
from localsvc.model.nodeconfig import PKI_DIR, NodeConfig


def pki_command(config: NodeConfig) -> list[str]:
    """The child's command line: check (or make) the CA and serving certificate in the state
    volume for this node's names and addresses."""
    cluster_range = str(plan_for(config.subnet).cluster_ip_range)
    return [sys.executable, "-m", "localsvc.runtime.pki", str(config.state_dir / PKI_DIR),
            config.env, config.node_ip, kubernetes_ip(cluster_range), config.cluster_domain]


def main() -> int:
    config = NodeConfig.from_environ()
    pki = subprocess.Popen(pki_command(config))
    from localsvc.node.main import run_node  # the heavy imports, while the child works

    return run_node(config, pki)
