"""What the node works with: its configuration (model/nodeconfig.py, read once from its own
process environment) and its Docker client."""

from __future__ import annotations

from dataclasses import dataclass

import docker

from localsvc.model.nodeconfig import NodeConfig


@dataclass(frozen=True)
class NodeContext:
    config: NodeConfig
    docker: docker.DockerClient
