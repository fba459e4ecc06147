"""What the node works with: its configuration (model/nodeconfig.py, read once from its own
process environment), its Docker client and the environment's CA certificate."""

from __future__ import annotations

from dataclasses import dataclass

import docker

from localsvc.model.nodeconfig import NodeConfig


@dataclass(frozen=True)
class NodeContext:
    config: NodeConfig
    docker: docker.DockerClient
    # The environment's CA (PEM), read once after the PKI child made or renewed it (node/main.py),
    # for the pods' ca.crt. None: pods get no API access (unit tests' nodes, without a PKI).
    ca_crt: bytes | None = None
