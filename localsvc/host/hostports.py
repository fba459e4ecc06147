"""Services on the host's ports: NodePort range, ports other programs hold, host URLs,
externalIPs this machine serves."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from localsvc.host.client import NodeClient
from localsvc.host.kubeobjects import list_objects
from localsvc.errors import LocalsvcError, Problem
from localsvc.model.externalips import local_external_ips
from localsvc.model.load import Manifest
from localsvc.model.nodeconfig import ingress_ports_setting
from localsvc.net.sockets import listening_socket
from localsvc.runtime.engine import engine_is_remote

Obj = dict[str, Any]


def ignored_external_ips(manifests: Sequence[Manifest], host_address: str) -> list[str]:
    """Warnings for externalIPs that are not addresses of this machine (they are not served)."""
    out = []
    for m in manifests:
        spec = (m.obj.get("spec") or {}) if m.kind == "Service" else {}
        local = set(local_external_ips(spec, host_address))
        for i, ip in enumerate(spec.get("externalIPs") or []):
            if str(ip) not in local:
                path = f"spec.externalIPs[{i}]"
                out.append(f"{m.file}:{m.line_of(path)}: Service/{m.name}: {path}: {ip} is not "
                           "an address of this machine; ignored (loopback addresses and the "
                           "host address are served)")
    return out


def host_port_conflicts(manifests: Sequence[Manifest], node: NodeClient,
                        host_address: str) -> list[Problem]:
    """Explicit nodePorts that some other program already holds on the host address. The
    environment's Services are listed only when a manifest asks for one (a request saved on
    every `up` that does not)."""
    if engine_is_remote():  # DOCKER_HOST or the current docker context
        return []  # ports are published on another machine; Docker reports conflicts there
    asked = [(m, i, port) for m in manifests
             if m.kind == "Service" and (m.obj.get("spec") or {}).get("type") in (
                 "NodePort", "LoadBalancer")
             for i, port in enumerate(m.obj["spec"].get("ports") or [])
             if isinstance(port.get("nodePort"), int)]
    if not asked:
        return []
    held = set()
    for svc in list_objects(node, "Service"):
        for port in svc["spec"].get("ports") or []:
            if port.get("nodePort"):
                held.add(int(port["nodePort"]))
    problems = []
    for m, i, port in asked:
        wanted = port["nodePort"]
        if wanted not in held and \
                not host_port_free(host_address, wanted, port.get("protocol") or "TCP"):
            path = f"spec.ports[{i}].nodePort"
            problems.append(Problem(m.file, m.line_of(path), "Service", m.name, path,
                                    f"port {wanted} is already in use on the host by "
                                    "another program; stop it or choose another nodePort"))
    return problems


def host_port_free(address: str, port: int, protocol: str) -> bool:
    """Whether a server could bind `port` on `address` now: bound the way the node's own
    servers bind (net/sockets.py), so connections in TIME_WAIT do not make a TCP port busy,
    and a UDP port another program holds is busy even when it set SO_REUSEADDR."""
    kind = socket.SOCK_DGRAM if protocol == "UDP" else socket.SOCK_STREAM
    try:
        listening_socket(address, port, kind).close()
    except OSError:
        return False
    return True


def check_node_port_range(text: str) -> str:
    low, _, high = text.partition("-")
    if not (low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high) <= 65535):
        raise LocalsvcError(f"--node-port-range must look like 30000-32767 (got {text!r})")
    return f"{int(low)}-{int(high)}"


def check_ingress_ports(given: tuple[int | None, int | None],
                        environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """The ingress controller's host ports: `given`, else LOCALSVC_INGRESS_HTTP_PORT and
    LOCALSVC_INGRESS_HTTPS_PORT of `environ` (os.environ), else 80 and 443 (0: any free port)."""
    try:
        return ingress_ports_setting(os.environ if environ is None else environ, given)
    except ValueError as err:
        raise LocalsvcError(f"ingress ports: {err}") from err


def host_url(svc: Obj, port: Obj, host_address: str, scheme: str = "http") -> str | None:
    """Where the host reaches one port of a Service: its LoadBalancer ingress, else its NodePort;
    None for a port only reachable inside the environment."""
    host = host_address if host_address != "0.0.0.0" else "127.0.0.1"
    ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    if svc["spec"].get("type") == "LoadBalancer" and ingress:
        return f"{scheme}://{ingress[0].get('ip', host)}:{port['port']}"
    if port.get("nodePort"):
        return f"{scheme}://{host}:{port['nodePort']}"
    return None
