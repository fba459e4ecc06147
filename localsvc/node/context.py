"""What the node knows about its environment, read once from its own process environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import docker


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high)


@dataclass(frozen=True)
class NodeConfig:
    env: str
    network: str
    subnet: str
    node_ip: str
    image: str  # the node's own image; pods' infra containers run it too
    token: str
    state_dir: Path
    cluster_domain: str
    api_port: int = 8080
    proxy_mode: str = "auto"  # auto | nftables | userspace
    host_address: str = "127.0.0.1"  # where NodePorts and LoadBalancers are published
    node_port_range: tuple[int, int] = (30000, 32767)

    @classmethod
    def from_environ(cls) -> NodeConfig:
        e = os.environ
        return cls(
            env=e["LOCALSVC_ENV"],
            network=e["LOCALSVC_NETWORK"],
            subnet=e["LOCALSVC_SUBNET"],
            node_ip=e["LOCALSVC_NODE_IP"],
            image=e["LOCALSVC_IMAGE"],
            token=e["LOCALSVC_TOKEN"],
            state_dir=Path(e.get("LOCALSVC_STATE_DIR", "/var/lib/localsvc")),
            cluster_domain=e.get("LOCALSVC_CLUSTER_DOMAIN", "cluster.local"),
            api_port=int(e.get("LOCALSVC_API_PORT", "8080")),
            proxy_mode=e.get("LOCALSVC_PROXY_MODE", "auto"),
            host_address=e.get("LOCALSVC_HOST_ADDRESS", "127.0.0.1"),
            node_port_range=_port_range(e.get("LOCALSVC_NODE_PORT_RANGE", "30000-32767")),
        )


@dataclass(frozen=True)
class NodeContext:
    config: NodeConfig
    docker: docker.DockerClient
