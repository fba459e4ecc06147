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
VAR_INGRESS_PORTS = "LOCALSVC_INGRESS_PORTS"  # "80,443": the ingress controller's host ports
# The host's settings of those ports (read by `up` when it creates an environment).
VAR_INGRESS_HTTP_PORT = "LOCALSVC_INGRESS_HTTP_PORT"
VAR_INGRESS_HTTPS_PORT = "LOCALSVC_INGRESS_HTTPS_PORT"
DEFAULT_INGRESS_PORTS = (80, 443)


def parse_port_range(text: str) -> tuple[int, int]:
    """"30000-32767" -> (30000, 32767); the host checks the text before it gets here."""
    low, _, high = text.partition("-")
    return int(low), int(high)


def format_port_range(ports: tuple[int, int]) -> str:
    return f"{ports[0]}-{ports[1]}"


def parse_ingress_ports(text: str) -> tuple[int, int]:
    """"80,443" -> (80, 443); 0 stands for any free port."""
    http, _, https = text.partition(",")
    return int(http), int(https)


def ingress_ports_setting(environ: Mapping[str, str],
                          given: tuple[int | None, int | None] = (None, None)) -> tuple[int, int]:
    """The ingress controller's host ports: given ones, else LOCALSVC_INGRESS_HTTP_PORT and
    LOCALSVC_INGRESS_HTTPS_PORT, else 80 and 443. Raises ValueError naming a bad setting."""
    out = []
    for value, var, option, default in zip(
            given, (VAR_INGRESS_HTTP_PORT, VAR_INGRESS_HTTPS_PORT),
            ("--ingress-http-port", "--ingress-https-port"), DEFAULT_INGRESS_PORTS):
        text = str(value) if value is not None else environ.get(var, "").strip()
        if not text:
            out.append(default)
            continue
        if not text.isdigit() or int(text) > 65535:
            raise ValueError(f"{option if value is not None else var} must be a port number "
                             f"0-65535 (0: any free port), got {text!r}")
        out.append(int(text))
    return out[0], out[1]


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
    ingress_ports: tuple[int, int] = DEFAULT_INGRESS_PORTS  # host HTTP, HTTPS (0: any free)

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
            VAR_INGRESS_PORTS: f"{self.ingress_ports[0]},{self.ingress_ports[1]}",
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
            ingress_ports=parse_ingress_ports(e.get(VAR_INGRESS_PORTS, "80,443")),
        )

    @classmethod
    def from_environ(cls) -> NodeConfig:
        """The node's own configuration, from its process environment."""
        return cls.from_env(os.environ)
