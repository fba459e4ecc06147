"""Services: type, clusterIP, ports, session affinity, traffic policies."""

from __future__ import annotations

import ipaddress
from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show


def check_service(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec") or {}
    kind = (
        check.one_of(
            spec.get("type"), "spec.type", ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
        )
        or "ClusterIP"
    )
    cluster_ip = check_cluster_ip(check, spec, kind)
    if kind == "ExternalName":
        external = check.string(
            spec.get("externalName"),
            "spec.externalName",
            required=True,
            hint=' for type ExternalName: the DNS name to alias, e.g. "db.example.com"',
        )
        if external and (error := names.dns1123_subdomain_error(external.removesuffix("."))):
            check.add("spec.externalName", error)
    headless = cluster_ip == "None"
    ports = check.items(spec.get("ports"), "spec.ports")
    if not ports and kind != "ExternalName" and not headless:
        check.add(
            "spec.ports",
            'required: at least one port (unless type is ExternalName or clusterIP is "None")',
        )
    check_service_ports(check, spec.get("ports") if ports else None, kind)
    check.labels(spec.get("selector"), "spec.selector")
    check_affinity(check, spec)
    traffic = check.one_of(
        spec.get("externalTrafficPolicy"), "spec.externalTrafficPolicy", ("Cluster", "Local")
    )
    if traffic is not None and kind not in ("NodePort", "LoadBalancer"):
        check.add(
            "spec.externalTrafficPolicy",
            "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
        )
    check.one_of(
        spec.get("internalTrafficPolicy"), "spec.internalTrafficPolicy", ("Cluster", "Local")
    )
    check.boolean(spec.get("publishNotReadyAddresses"), "spec.publishNotReadyAddresses")


def check_cluster_ip(check: Check, spec: dict[str, Any], kind: str) -> str | None:
    cluster_ip = check.string(spec.get("clusterIP"), "spec.clusterIP")
    if not cluster_ip:
        return cluster_ip
    if kind == "ExternalName":
        check.add("spec.clusterIP", "may not be set for type ExternalName")
        return None
    if cluster_ip == "None":
        if kind in ("NodePort", "LoadBalancer"):
            check.add("spec.clusterIP", f"may not be set to 'None' for {kind} services")
        return cluster_ip
    try:
        ipaddress.IPv4Address(cluster_ip)
    except ValueError:
        check.add(
            "spec.clusterIP", f'must be "", "None" or an IPv4 address (got {show(cluster_ip)})'
        )
    return cluster_ip


def check_service_ports(check: Check, value: Any, kind: str) -> None:
    ports = check.mappings(value, "spec.ports")
    seen_names: dict[str, str] = {}
    seen_pairs: dict[tuple[int, str], str] = {}
    for item_path, port in ports:
        at = partial(child_path, item_path)
        number = check.port(port.get("port"), at("port"))
        check.int_or_port_name(port.get("targetPort"), at("targetPort"), required=False)
        check.protocol(port.get("protocol"), at("protocol"))
        node_port = check.integer(port.get("nodePort"), at("nodePort"))
        if node_port and kind not in ("NodePort", "LoadBalancer"):
            check.add(at("nodePort"), f"may not be used when `type` is '{kind}'")
        check.string(port.get("appProtocol"), at("appProtocol"))
        if len(ports) > 1 and port.get("name") in (None, ""):
            check.add(at("name"), "required when a Service has more than one port")
        name = check.name(port.get("name"), at("name"), names.dns1123_label_error, required=False)
        if name is not None:
            check.unique(name, at("name"), seen_names, "port name")
        protocol = port.get("protocol") or "TCP"
        if number is not None and isinstance(protocol, str):
            pair = (number, protocol)
            if pair in seen_pairs:
                check.add(
                    at("port"), f"duplicate port {number}/{protocol} (also at {seen_pairs[pair]})"
                )
            seen_pairs.setdefault(pair, item_path)


def check_affinity(check: Check, spec: dict[str, Any]) -> None:
    affinity = check.one_of(
        spec.get("sessionAffinity"), "spec.sessionAffinity", ("None", "ClientIP")
    )
    config = check.mapping(spec.get("sessionAffinityConfig"), "spec.sessionAffinityConfig")
    if config is None:
        return
    if affinity != "ClientIP":
        check.add(
            "spec.sessionAffinityConfig", "must not be set when sessionAffinity is not ClientIP"
        )
        return
    client = check.mapping(config.get("clientIP"), "spec.sessionAffinityConfig.clientIP") or {}
    check.integer(
        client.get("timeoutSeconds"), "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 1, 86400
    )
