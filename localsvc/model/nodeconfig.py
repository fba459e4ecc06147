"""What a node knows about its environment, and how it travels: the node container's environment
variables, written by the host (runtime/environment.py create_node) and read by the node
(node/main.py via NodeConfig.from_environ). Both ends use this one dataclass, so a field cannot be
written under one name and read under another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = "/var/lib/localsvc"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
# Under the state directory: the environment's CA and serving certificate (runtime/pki.py). The
# node writes them; the host reads the CA certificate from the node container to pin it.
PKI_DIR = "pki"
CA_CERT_FILE = "ca.crt"  # in PKI_DIR
SERVING_CERT_FILE = "apiserver.crt"
SERVING_KEY_FILE = "apiserver.key"
# The API inside the environment, at the node's IP (and, later, the `kubernetes` Service).
IN_CLUSTER_API_PORT = 443
# The variables' names; the host also reads some back from a node container (runtime/environment.py).
VAR_ENV = "LOCALSVC_ENV"
VAR_NETWORK = "LOCALSVC_NETWORK"
VAR_SUBNET = "LOCALSVC_SUBNET"
VAR_NODE_IP = "LOCALSVC_NODE_IP"
VAR_IMAGE = "LOCALSVC_IMAGE"
VAR_TOKEN = "LOCALSVC_TOKEN"
VAR_STATE_DIR = "LOCALSVC_STATE_DIR"
VAR_CLUSTER_DOMAIN = "LOCALSVC_CLUSTER_DOMAIN"
VAR_API_PORT = "LOCALSVC_API_PORT"
VAR_PROXY_MODE = "LOCALSVC_PROXY_MODE"
VAR_HOST_ADDRESS = "LOCALSVC_HOST_ADDRESS"
VAR_NODE_PORT_RANGE = "LOCALSVC_NODE_PORT_RANGE"


def parse_port_range(text: str) -> tuple[int, int]:
    """"30000-32767" -> (30000, 32767); the host checks the text before it gets here."""
    low, _, high = text.partition("-")
    return int(low), int(high)


def format_port_range(ports: tuple[int, int]) -> str:
    return f"{ports[0]}-{ports[1]}"


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
    node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE

    def to_env(self) -> dict[str, str]:
        """The node container's environment variables that carry this configuration."""
        return {
            VAR_ENV: self.env,
            VAR_NETWORK: self.network,
            VAR_SUBNET: self.subnet,
            VAR_NODE_IP: self.node_ip,
            VAR_IMAGE: self.image,
            VAR_TOKEN: self.token,
            VAR_STATE_DIR: str(self.state_dir),
            VAR_CLUSTER_DOMAIN: self.cluster_domain,
            VAR_API_PORT: str(self.api_port),
            VAR_PROXY_MODE: self.proxy_mode,
            VAR_HOST_ADDRESS: self.host_address,
            VAR_NODE_PORT_RANGE: format_port_range(self.node_port_range),
        }

    @classmethod
    def from_env(cls, e: Mapping[str, str]) -> NodeConfig:
        """The configuration to_env() wrote; the optional variables default as before they
        existed (a node created by an older host lacks them)."""
        return cls(
            env=e[VAR_ENV],
            network=e[VAR_NETWORK],
            subnet=e[VAR_SUBNET],
            node_ip=e[VAR_NODE_IP],
            image=e[VAR_IMAGE],
            token=e[VAR_TOKEN],
            state_dir=Path(e.get(VAR_STATE_DIR, DEFAULT_STATE_DIR)),
            cluster_domain=e.get(VAR_CLUSTER_DOMAIN, "cluster.local"),
            api_port=int(e.get(VAR_API_PORT, "8080")),
            proxy_mode=e.get(VAR_PROXY_MODE, "auto"),
            host_address=e.get(VAR_HOST_ADDRESS, "127.0.0.1"),
            node_port_range=parse_port_range(
                e.get(VAR_NODE_PORT_RANGE, format_port_range(DEFAULT_NODE_PORT_RANGE))),
        )

    @classmethod
    def from_environ(cls) -> NodeConfig:
        """The node's own configuration, from its process environment."""
        return cls.from_env(os.environ)
