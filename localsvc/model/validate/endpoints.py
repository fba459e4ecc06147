"""Endpoints and EndpointSlices written by hand: addresses, hostnames, ports."""

from __future__ import annotations

from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.endpoints import SERVICE_NAME_LABEL
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check

# The EndpointSlice API's documented limits (kubectl explain endpointslice.endpoints etc.).
MAX_SLICE_ENDPOINTS = 1000
MAX_SLICE_ADDRESSES = 100
MAX_SLICE_PORTS = 100


def check_endpoints(check: Check) -> None:
    for subset_path, subset in check.mappings(check.m.obj.get("subsets"), "subsets"):
        for key in ("addresses", "notReadyAddresses"):
            for address_path, address in check.mappings(
                subset.get(key), child_path(subset_path, key)
            ):
                check.name(address.get("ip"), child_path(address_path, "ip"), names.address_problem)
                check.name(
                    address.get("hostname"),
                    child_path(address_path, "hostname"),
                    names.dns1123_label_error,
                    required=False,
                )
        check_endpoint_ports(
            check, subset.get("ports"), child_path(subset_path, "ports"), nullable=False
        )


def check_endpoint_ports(check: Check, value: Any, path: str, nullable: bool) -> None:
    ports = check.mappings(value, path)
    seen: dict[str, str] = {}
    for item_path, port in ports:
        at = partial(child_path, item_path)
        check.port(port.get("port"), at("port"), required=not nullable)
        check.protocol(port.get("protocol"), at("protocol"))
        if not nullable and len(ports) > 1 and port.get("name") in (None, ""):
            check.add(at("name"), "required when there is more than one port")
        name = check.name(port.get("name"), at("name"), names.dns1123_label_error, required=False)
        if name is not None:
            check.unique(name, at("name"), seen, "port name")


def check_endpointslice(check: Check) -> None:
    labels = check.m.metadata.get("labels")
    if not isinstance(labels, dict) or not labels.get(SERVICE_NAME_LABEL):
        check.add(
            "metadata.labels",
            f'the label "{SERVICE_NAME_LABEL}" is required: it links the slice to its Service',
        )
    address_type = check.one_of(
        check.m.obj.get("addressType"), "addressType", ("IPv4", "IPv6", "FQDN"), required=True
    )
    if address_type == "IPv6":  # valid in Kubernetes, unreachable here: say so once
        check.add(
            "addressType",
            'localsvc environments use IPv4 only: an "IPv6" slice would never be used; '
            'use "IPv4" (or "FQDN")',
        )
    endpoints = check.mappings(check.m.obj.get("endpoints"), "endpoints")
    check_at_most(check, len(endpoints), MAX_SLICE_ENDPOINTS, "endpoints", "endpoints")
    for item_path, endpoint in endpoints:
        addresses_path = child_path(item_path, "addresses")
        addresses = check.items(endpoint.get("addresses"), addresses_path, required=True)
        if addresses == []:
            check.add(addresses_path, "must contain at least 1 address")
        check_at_most(check, len(addresses or []), MAX_SLICE_ADDRESSES, addresses_path, "addresses")
        for index, address in enumerate(addresses or []):
            check_slice_address(check, address, child_path(addresses_path, index), address_type)
        check.name(
            endpoint.get("hostname"),
            child_path(item_path, "hostname"),
            names.dns1123_label_error,
            required=False,
        )
        conditions_path = child_path(item_path, "conditions")
        for key, flag in (check.mapping(endpoint.get("conditions"), conditions_path) or {}).items():
            check.boolean(flag, child_path(conditions_path, key))
    ports = check.m.obj.get("ports")
    if isinstance(ports, list):
        check_at_most(check, len(ports), MAX_SLICE_PORTS, "ports", "ports")
    check_endpoint_ports(check, ports, "ports", nullable=True)


def check_at_most(check: Check, count: int, limit: int, path: str, what: str) -> None:
    if count > limit:
        check.add(path, f"must have at most {limit} {what} (got {count})")


def check_slice_address(check: Check, address: Any, path: str, address_type: str | None) -> None:
    if address_type == "IPv4":
        check.name(address, path, names.address_problem)
    elif address_type == "FQDN":
        text = check.string(address, path, required=True)
        if text is not None and (error := names.dns1123_subdomain_error(text)):
            check.add(path, error)
