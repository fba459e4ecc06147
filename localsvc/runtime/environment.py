"""An environment's Docker objects: its bridge network, its state volume, its node container.

Creates them (labelled), finds them again from labels alone, and removes every object carrying
the environment's label, so `down` works after any crash. Blocking Docker SDK calls.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

from localsvc.net.direct import open_direct
from localsvc.errors import EngineError, EnvironmentNotFound, NodeError
from localsvc.model.network import AddressPlan, choose_subnet, plan_for
from localsvc.model import nodeconfig
from localsvc.model.nodeconfig import (
    DEFAULT_INGRESS_PORTS,
    CA_CERT_FILE,
    DEFAULT_STATE_DIR,
    PKI_DIR,
    NodeConfig,
    parse_port_range,
)
from localsvc.runtime import claims, labels as L
from localsvc.runtime.claims import is_claim_volume
from localsvc.runtime.engine import engine_socket_path
from localsvc.runtime.nodeaddress import NodeAddress
from localsvc.runtime.pods import pod_volume_prefix
from localsvc.runtime.tarballs import read_archive

API_PORT = 8080
STATE_DIR = DEFAULT_STATE_DIR


@dataclass(frozen=True)
class EnvInfo:
    name: str
    network: str
    subnet: str
    node_ip: str
    node_status: str  # running | exited | missing ...
    api_url: str | None
    token: str
    keep: bool
    created: str
    host_dns: str | None = None  # 127.0.0.1:PORT when the DNS server is published (--host-dns)
    ca_pem: bytes = b""  # the environment's CA certificate, once read (read_node_ca)

    @property
    def address(self) -> NodeAddress:
        """How the host reaches the node's API (needs api_url; ca_pem for https)."""
        return NodeAddress(self.api_url or "", self.token, self.ca_pem)


def network_name(env: str) -> str:
    return L.resource_name(env)


def node_name(env: str) -> str:
    return L.resource_name(env, "node")


def state_volume_name(env: str) -> str:
    return L.resource_name(env, "state")


def _used_subnets(client: docker.DockerClient) -> list[str]:
    used = []
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet"):
                used.append(cfg["Subnet"])
    return used + _host_routes()


def _host_routes() -> list[str]:
    """IPv4 routes of this machine (Linux), so a new subnet does not shadow the LAN or a VPN."""
    routes: list[str] = []
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return routes
    import ipaddress
    import socket
    import struct

    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[1] == "00000000":
            continue
        dest = socket.inet_ntoa(struct.pack("<L", int(fields[1], 16)))
        mask = socket.inet_ntoa(struct.pack("<L", int(fields[7], 16)))
        try:
            routes.append(str(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)))
        except ValueError:
            continue
    return routes


def _docker_socket() -> str:
    """The engine socket to mount into the node: the endpoint localsvc talks to (DOCKER_HOST,
    docker context, default), as a path on the engine's host. Kept for callers of this name;
    new code calls engine_socket_path()."""
    return engine_socket_path()


def create_network(client: docker.DockerClient, env: str, subnet: str | None) -> AddressPlan:
    """The environment's bridge, on the given subnet or the first free one (retrying on a race
    with another environment created at the same moment)."""
    tried: list[str] = []
    for _ in range(20):
        chosen = subnet or choose_subnet(_used_subnets(client), exclude=tried)
        plan = plan_for(chosen)
        ipam = docker.types.IPAMConfig(
            pool_configs=[
                docker.types.IPAMPool(
                    subnet=str(plan.subnet), iprange=str(plan.pod_range), gateway=plan.gateway
                )
            ]
        )
        try:
            client.networks.create(
                network_name(env),
                driver="bridge",
                ipam=ipam,
                labels=L.base(env, L.ROLE_NETWORK, **{L.SUBNET: str(plan.subnet)}),
            )
            return plan
        except docker.errors.APIError as err:
            if subnet or "overlap" not in str(err).lower():
                raise EngineError(
                    f"cannot create network {network_name(env)} on {chosen}: {err.explanation or err}"
                ) from err
            tried.append(chosen)
    raise EngineError("could not find a free subnet for the environment's network; pass --subnet")


def create_node(
    client: docker.DockerClient,
    env: str,
    plan: AddressPlan,
    image: str,
    cluster_domain: str,
    keep: bool,
    proxy_mode: str = "auto",
    host_address: str = "127.0.0.1",
    node_port_range: str = "30000-32767",
    host_dns_port: int | None = None,
    token: str | None = None,
    api_host_port: int | None = None,
    ingress_ports: tuple[int, int] = DEFAULT_INGRESS_PORTS,
) -> None:
    """`token` and `api_host_port`: the API token and host port to keep (a node replaced by a
    newer image keeps its predecessor's, so the kubeconfigs written for the environment stay
    valid); a new token and any free port otherwise. `ingress_ports`: the ingress
    controller's host HTTP and HTTPS ports (0: any free one)."""
    config = NodeConfig(
        env=env, network=network_name(env), subnet=str(plan.subnet), node_ip=plan.node_ip,
        image=image, token=token or secrets.token_urlsafe(24), state_dir=Path(STATE_DIR),
        cluster_domain=cluster_domain, api_port=API_PORT, proxy_mode=proxy_mode,
        host_address=host_address, node_port_range=parse_port_range(node_port_range),
        ingress_ports=ingress_ports,
    )
    api = client.api
    try:
        client.volumes.get(state_volume_name(env))
    except docker.errors.NotFound:
        client.volumes.create(name=state_volume_name(env), labels=L.base(env, L.ROLE_STATE_VOLUME))
    socket_path = _docker_socket()
    host_config = api.create_host_config(
        binds={
            state_volume_name(env): {"bind": STATE_DIR, "mode": "rw"},
            socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"},
        },
        # The API is published on the host's loopback only, on a free port.
        port_bindings={
            f"{API_PORT}/tcp": ("127.0.0.1", api_host_port),
            # --host-dns: the cluster DNS on a host port, for dig and friends (0 = any free).
            **({"53/udp": ("127.0.0.1", host_dns_port or None),
                "53/tcp": ("127.0.0.1", host_dns_port or None)} if host_dns_port is not None else {}),
        },
        cap_add=["NET_ADMIN"],
        # Forwarding for the kernel NAT; no ICMP redirects, which would tell pods to bypass
        # the node (the kernel sends them if either `all` or the interface allows them).
        sysctls={
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.all.send_redirects": "0",
            "net.ipv4.conf.eth0.send_redirects": "0",
            # The userspace proxy opens a connection per proxied connection: widen the range
            # and reuse TIME_WAIT ports (they ran out at ~245 conn/s otherwise).
            "net.ipv4.ip_local_port_range": "10000 65000",
            "net.ipv4.tcp_tw_reuse": "1",
        },
        restart_policy={"Name": "unless-stopped"},
    )
    networking = api.create_networking_config(
        {network_name(env): api.create_endpoint_config(ipv4_address=plan.node_ip)}
    )
    created = api.create_container(
        image=image,
        command=["node"],
        name=node_name(env),
        hostname="localsvc-node",
        labels=L.base(env, L.ROLE_NODE, **({L.KEEP: "true"} if keep else {}), **{L.SUBNET: str(plan.subnet)}),
        environment={
            **config.to_env(),
            "DOCKER_HOST": "unix:///var/run/docker.sock",
            "PYTHONUNBUFFERED": "1",
        },
        ports=[API_PORT, *([(53, "udp"), 53] if host_dns_port is not None else [])],
        host_config=host_config,
        networking_config=networking,
        stop_signal="SIGTERM",
    )
    client.api.start(created["Id"])


def find(client: docker.DockerClient, env: str) -> EnvInfo | None:
    """The environment as Docker shows it, or None when it has no network and no node."""
    try:
        node = client.containers.get(node_name(env))
    except docker.errors.NotFound:
        node = None
    if node is None:
        # Docker's name filter matches substrings: keep the exact name only.
        nets = [n for n in client.networks.list(names=[network_name(env)])
                if n.name == network_name(env)]
        if not nets:
            return None
        return EnvInfo(env, network_name(env), nets[0].attrs.get("Labels", {}).get(L.SUBNET, ""),
                       "", "missing", None, "", False, "")
    return _info_from_node(env, node)


def _info_from_node(env: str, node: Any) -> EnvInfo:
    attrs = node.attrs
    environ = dict(e.split("=", 1) for e in attrs["Config"].get("Env") or [] if "=" in e)
    url = None
    bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in bindings.get(f"{API_PORT}/tcp") or []:
        url = f"https://127.0.0.1:{binding['HostPort']}"
    host_dns = None
    for binding in bindings.get("53/udp") or []:
        host_dns = f"127.0.0.1:{binding['HostPort']}"
    return EnvInfo(
        name=env,
        network=environ.get(nodeconfig.VAR_NETWORK, network_name(env)),
        subnet=environ.get(nodeconfig.VAR_SUBNET, ""),
        node_ip=environ.get(nodeconfig.VAR_NODE_IP, ""),
        node_status=node.status,
        api_url=url,
        token=environ.get(nodeconfig.VAR_TOKEN, ""),
        keep=node.labels.get(L.KEEP) == "true",
        created=attrs.get("Created", "")[:19],
        host_dns=host_dns,
    )


def list_envs(client: docker.DockerClient) -> list[EnvInfo]:
    names: set[str] = set()
    for c in client.containers.list(all=True, filters={"label": [L.ENV]}):
        names.add(c.labels[L.ENV])
    for n in client.networks.list(filters={"label": [L.ENV]}):
        names.add(n.attrs["Labels"][L.ENV])
    for v in client.volumes.list(filters={"label": [L.ENV]}):
        if not is_claim_volume(v.attrs.get("Labels")):  # kept by `down`
            names.add((v.attrs.get("Labels") or {})[L.ENV])
    infos = []
    for name in sorted(names):
        info = find(client, name)
        infos.append(info or EnvInfo(name, "", "", "", "missing", None, "", False, ""))
    return infos


def read_node_ca(client: docker.DockerClient, env: str) -> bytes:
    """The environment's CA certificate (public), read from the node container's state directory
    through the Docker API: the node writes it before it serves. b"" while it is not there."""
    path = f"{STATE_DIR}/{PKI_DIR}/{CA_CERT_FILE}"
    try:
        entries = read_archive(client.api, node_name(env), path)
    except docker.errors.NotFound:
        return b""
    found = [e.content for e in entries if e.path == CA_CERT_FILE and e.content is not None]
    return found[0] if found else b""


def with_ca(client: docker.DockerClient, info: EnvInfo) -> EnvInfo:
    """`info` with the environment's CA certificate (one Docker call; none when it has one)."""
    if info.ca_pem or info.node_status != "running":
        return info
    return replace(info, ca_pem=read_node_ca(client, info.name))


def wait_healthy(client: docker.DockerClient, env: str, timeout: float = 60.0) -> EnvInfo:
    """Wait until the node answers /healthz on its published port, over TLS verified with the
    environment's CA (read once the node has written it)."""
    deadline = time.monotonic() + timeout
    last_error = ""
    ca_pem = b""
    address: NodeAddress | None = None  # once the CA is read: its TLS context is built once
    while time.monotonic() < deadline:
        node = client.containers.get(node_name(env))
        if node.status in ("exited", "dead"):
            logs = node.logs(tail=30).decode(errors="replace")
            raise NodeError(f"the node container of {env} exited; its last log lines:\n{logs}")
        info = _info_from_node(env, node)
        if info.api_url and node.status == "running":
            ca_pem = ca_pem or read_node_ca(client, env)
        if info.api_url and ca_pem:
            info = replace(info, ca_pem=ca_pem)
            if address is None or address.url != info.api_url:
                address = info.address
            try:
                with open_direct(address.join("/healthz"), timeout=2,
                                 context=address.ssl_context) as resp:
                    if json.load(resp).get("ok"):
                        return info
            except (urllib.error.URLError, OSError, ValueError) as err:
                last_error = str(err)
        time.sleep(0.1)
    raise NodeError(f"the node of {env} did not become healthy in {timeout:.0f}s ({last_error})")


def _remove_container(client: docker.DockerClient, container_id: str) -> int:
    try:
        client.api.remove_container(container_id, force=True, v=True)
        return 1
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as err:
        if "already in progress" in str(err):
            return 0
        raise


def destroy(client: docker.DockerClient, env: str, volumes: bool = False) -> claims.Removed:
    """Remove every container, network and volume labelled with the environment, but for the
    volumes of its PersistentVolumeClaims unless `volumes` (compose's `down` and `down -v`)."""
    if not env:
        raise EnvironmentNotFound("an environment name is required")
    filters, kept = L.env_filter(env), []
    removed = {"containers": 0, "networks": 0, "volumes": 0}
    # The node first, so that it does not recreate pods while they are being removed. A Docker
    # call the node had in flight may still create a container after that: list again.
    for attempt in range(10):
        # The low-level list inspects nothing, so a container vanishing meanwhile is no error.
        containers = client.api.containers(all=True, filters=filters)
        if not containers:
            break
        nodes = [c["Id"] for c in containers if (c.get("Labels") or {}).get(L.ROLE) == L.ROLE_NODE]
        others = [c["Id"] for c in containers if c["Id"] not in nodes]
        removed["containers"] += sum(_remove_container(client, c) for c in nodes)
        with ThreadPoolExecutor(max_workers=8) as pool:
            removed["containers"] += sum(pool.map(lambda c: _remove_container(client, c), others))
        if attempt:
            time.sleep(0.2)
    for n in client.networks.list(filters=filters):
        for attempt in range(10):
            try:
                n.remove()
                removed["networks"] += 1
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError as err:
                if "active endpoints" not in str(err) or attempt == 9:
                    raise EngineError(f"cannot remove network {n.name}: {err}") from err
                for c in client.api.containers(all=True, filters=filters):
                    removed["containers"] += _remove_container(client, c["Id"])
                time.sleep(0.3)
    for v in [*client.volumes.list(filters=filters), *_unlabelled_pod_volumes(client, env)]:
        if not volumes and is_claim_volume(v.attrs.get("Labels")):
            kept.append(v.name)
            continue
        try:
            v.remove(force=True)
            removed["volumes"] += 1
        except docker.errors.NotFound:
            pass
    return claims.Removed(removed, sorted(kept))


def _unlabelled_pod_volumes(client: docker.DockerClient, env: str) -> list[Any]:
    """Pod volumes of `env` that Docker made itself, without labels: a container created while
    its pod's volume was being removed (the pod deleted as it started) gets an empty volume of
    that name from the engine. Found by name; a labelled one is another environment's."""
    prefix = pod_volume_prefix(env)
    return [v for v in client.volumes.list(filters={"name": prefix})  # Docker: a substring
            if v.name.startswith(prefix) and not (v.attrs.get("Labels") or {})]
