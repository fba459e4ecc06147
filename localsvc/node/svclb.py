"""NodePort and LoadBalancer Services on the developer's machine: which forwarder ("svclb")
container each Service needs (pure), and making the running ones match (Docker, in threads).

One svclb container per Service (k3s ServiceLB's approach): it publishes the Service's host ports
and forwards them to the ClusterIP. Docker can publish ports only when a container is created, so
a changed Service gets a new forwarder; other Services' forwarders and the node are never touched.

Where the node's own service proxy runs on nftables (so the engine grants NET_ADMIN and nft
works), each svclb gets NET_ADMIN and IPv4 forwarding too, and DNATs in the kernel; elsewhere it
gets neither and relays in userspace (net/svclbrun.py, which also falls back by itself). Only the
node and svclb containers hold NET_ADMIN; none is privileged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from localsvc.model.snapshot import Snapshot
from localsvc.model.externalips import local_external_ips
from localsvc.net.forwarder import SPEC_VARIABLE, ForwardRule, rules_to_json
from localsvc.net.svclbrun import MODE_KERNEL
from localsvc.runtime import labels as L

log = logging.getLogger("localsvc.svclb")
ROLE_SVCLB = "svclb"
SPEC_HASH = f"{L.PREFIX}.spec-hash"
# The kernel path: DNAT and masquerade in the svclb's own network namespace. No ICMP redirects:
# a packet forwarded back out of eth0 would make the kernel tell the sender to go direct (it
# sends them if either `all` or the interface allows them).
KERNEL_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.eth0.send_redirects": "0",
}


@dataclass(frozen=True)
class Publish:
    container_port: int
    protocol: str  # TCP | UDP
    host_port: int
    host_ip: str | None = None  # None: the environment's host address


@dataclass(frozen=True)
class SvclbSpec:
    namespace: str
    name: str
    rules: tuple[ForwardRule, ...]
    publish: tuple[Publish, ...]
    host_address: str
    kernel: bool = False  # forward in the kernel (NET_ADMIN), else the userspace relay

    @property
    def digest(self) -> str:
        text = repr((self.rules, self.publish, self.host_address, self.kernel))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def desired_forwarders(
    snapshot: Snapshot,
    services: Mapping[str, dict[str, Any]],
    lb_owned: set[str],
    host_address: str,
    kernel: bool = False,
) -> dict[str, SvclbSpec]:
    """Service key -> forwarder spec, for every NodePort/LoadBalancer Service with a ClusterIP.

    `lb_owned`: LoadBalancer Services that hold all their host ports (the others are pending and
    publish only their NodePorts). `kernel`: the forwarders forward in the kernel."""
    out: dict[str, SvclbSpec] = {}
    for info in snapshot.services:
        key = f"{info.namespace}/{info.name}"
        spec = (services.get(key) or {}).get("spec") or {}
        external = local_external_ips(spec, host_address)
        if not info.cluster_ip or (info.type not in ("NodePort", "LoadBalancer") and not external):
            continue
        ranges = tuple(str(r) for r in spec.get("loadBalancerSourceRanges") or [])
        rules: list[ForwardRule] = []
        publish: list[Publish] = []
        listening: set[tuple[int, str]] = set()
        for port in info.ports:
            if port.node_port and (port.node_port, port.protocol) not in listening:
                listening.add((port.node_port, port.protocol))
                rules.append(ForwardRule(port.node_port, port.protocol,  # type: ignore[arg-type]
                                         info.cluster_ip, port.port))
                publish.append(Publish(port.node_port, port.protocol, port.node_port))
        if info.type == "LoadBalancer" and key in lb_owned:
            for port in info.ports:
                listen = port.port
                if (listen, port.protocol) in listening:
                    # The Service port equals a nodePort listener already: listen elsewhere.
                    listen = 20000 + port.port % 10000
                listening.add((listen, port.protocol))
                rules.append(ForwardRule(listen, port.protocol, info.cluster_ip,  # type: ignore[arg-type]
                                         port.port, ranges))
                publish.append(Publish(listen, port.protocol, port.port))
        for ip in external:  # spec.externalIPs: the Service port on that address
            for port in info.ports:
                listen = 40000 + len(rules)
                rules.append(ForwardRule(listen, port.protocol,  # type: ignore[arg-type]
                                         info.cluster_ip, port.port))
                publish.append(Publish(listen, port.protocol, port.port, ip))
        if rules:
            out[key] = SvclbSpec(info.namespace, info.name, tuple(rules), tuple(publish),
                                 host_address, kernel)
    return out


def spec_json(spec: SvclbSpec, gateway: str) -> str:
    return rules_to_json(spec.rules, host_alias=gateway, mode=MODE_KERNEL if spec.kernel else "")


def container_name(env: str, spec: SvclbSpec) -> str:
    return L.resource_name(env, "svclb", spec.namespace, spec.name)


def running_forwarders(client: docker.DockerClient, env: str) -> dict[str, Any]:
    found = client.containers.list(
        all=True, filters={"label": [f"{L.ENV}={env}", f"{L.ROLE}={ROLE_SVCLB}"]}
    )
    return {f"{c.labels.get(L.NAMESPACE)}/{c.labels.get(L.NAME)}": c for c in found}


def create_forwarder(client: docker.DockerClient, env: str, network: str, image: str,
                     spec: SvclbSpec, gateway: str = "") -> None:
    """Create and start the forwarder; raises docker.errors.APIError (e.g. port in use)."""
    api = client.api
    bindings = {f"{p.container_port}/{p.protocol.lower()}": (p.host_ip or spec.host_address,
                                                             p.host_port)
                for p in spec.publish}
    kernel: dict[str, Any] = {"cap_add": ["NET_ADMIN"], "sysctls": KERNEL_SYSCTLS} \
        if spec.kernel else {}
    host_config = api.create_host_config(port_bindings=bindings,
                                         restart_policy={"Name": "unless-stopped"}, **kernel)
    networking = api.create_networking_config({network: api.create_endpoint_config()})
    name = container_name(env, spec)
    created = api.create_container(
        image=image,
        command=["svclb"],
        name=name,
        labels=L.base(env, ROLE_SVCLB, **{L.NAMESPACE: spec.namespace, L.NAME: spec.name,
                                          L.KIND: "Service", SPEC_HASH: spec.digest}),
        environment={SPEC_VARIABLE: spec_json(spec, gateway), "PYTHONUNBUFFERED": "1"},
        ports=[(p.container_port, p.protocol.lower()) for p in spec.publish],
        host_config=host_config,
        networking_config=networking,
    )
    try:
        api.start(created["Id"])
    except docker.errors.APIError:
        api.remove_container(created["Id"], force=True)
        raise


def remove_forwarder(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass


def changed_services(applied: Mapping[str, SvclbSpec] | None,
                     desired: Mapping[str, SvclbSpec]) -> set[str] | None:
    """Service keys whose forwarder is added, removed or changed since `applied`; None (all)
    when nothing is known to be applied."""
    if applied is None:
        return None
    return {k for k in applied.keys() | desired.keys() if applied.get(k) != desired.get(k)}


def reconcile(client: docker.DockerClient, env: str, network: str, image: str,
              desired: Mapping[str, SvclbSpec], gateway: str = "",
              only: set[str] | None = None) -> dict[str, str]:
    """Make the running forwarders match `desired` (for the Service keys in `only`, when given:
    the others are left as they run); returns Service key -> error message for forwarders that
    could not start (a host port held by another program, typically)."""
    errors: dict[str, str] = {}
    current = running_forwarders(client, env)
    if only is not None:
        current = {k: c for k, c in current.items() if k in only}
        desired = {k: s for k, s in desired.items() if k in only}
    for key, container in list(current.items()):
        spec = desired.get(key)
        if spec is None or container.labels.get(SPEC_HASH) != spec.digest or \
                container.status not in ("running", "restarting"):
            log.info("removing forwarder of %s", key)
            remove_forwarder(container)
            del current[key]
    for key, spec in desired.items():
        if key in current:
            continue
        try:
            log.info("starting forwarder of %s: %s", key,
                     ", ".join(f"{spec.host_address}:{p.host_port}/{p.protocol}" for p in spec.publish))
            create_forwarder(client, env, network, image, spec, gateway)
        except docker.errors.APIError as err:
            message = str(err.explanation or err)
            errors[key] = f"cannot publish the Service's host ports: {message}"
            log.warning("forwarder of %s: %s", key, message)
    return errors
