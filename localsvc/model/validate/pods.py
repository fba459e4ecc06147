"""Pod specs and their containers: names, images, ports, restart policy, DNS, resources."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, check_quantity, show
from localsvc.model.validate.env import check_env, check_env_from
from localsvc.model.validate.probes import check_probe
from localsvc.model.validate.volumes import check_mounts, check_volumes

# The API server's limits on a pod's DNS search list (the resolv.conf of the resolver).
MAX_DNS_SEARCHES = 32
MAX_DNS_SEARCH_CHARS = 2048


def check_pod(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is not None:
        check_pod_spec(check, spec, "spec", ("Always", "OnFailure", "Never"))


def check_pod_spec(
    check: Check, spec: dict[str, Any], path: str, restart_policies: Sequence[str],
    claim_volumes: Sequence[str] = (),
) -> None:
    """`claim_volumes`: the volumes a StatefulSet's volumeClaimTemplates add to each pod."""
    at = partial(child_path, path)
    volumes = check_volumes(check, spec.get("volumes"), at("volumes")) | set(claim_volumes)
    containers = check.items(spec.get("containers"), at("containers"), required=True)
    if containers == []:
        check.add(at("containers"), "must have at least one container")
    seen_names: dict[str, str] = {}
    seen_ports: dict[str, str] = {}
    for group, value in (
        ("initContainers", spec.get("initContainers")),
        ("containers", containers),
    ):
        for item_path, container in check.mappings(value, at(group)):
            check_container(
                check,
                container,
                item_path,
                volumes,
                seen_names,
                seen_ports,
                init=group == "initContainers",
            )
    policy = spec.get("restartPolicy")
    if len(restart_policies) == 1 and policy not in (None, restart_policies[0]):
        check.add(at("restartPolicy"), f'must be "Always" for a {check.m.kind} (got {show(policy)})')
    else:
        check.one_of(policy, at("restartPolicy"), restart_policies)
    check.integer(
        spec.get("terminationGracePeriodSeconds"), at("terminationGracePeriodSeconds"), low=0
    )
    check.integer(spec.get("activeDeadlineSeconds"), at("activeDeadlineSeconds"), low=1)
    for key in ("hostname", "subdomain"):
        check.name(spec.get(key), at(key), names.dns1123_label_error, required=False)
    check.string(spec.get("serviceAccountName"), at("serviceAccountName"))
    check_dns(check, spec, path)


def check_dns(check: Check, spec: dict[str, Any], path: str) -> None:
    policy = check.one_of(
        spec.get("dnsPolicy"),
        child_path(path, "dnsPolicy"),
        ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
    )
    config_path = child_path(path, "dnsConfig")
    config = check.mapping(spec.get("dnsConfig"), config_path)
    if policy == "None" and not config:
        check.add(
            config_path,
            'required when dnsPolicy is "None" (give nameservers, searches and/or options)',
            line_path=child_path(path, "dnsPolicy"),
        )
    if config is None:
        return
    servers_path = child_path(config_path, "nameservers")
    servers = check.items(config.get("nameservers"), servers_path) or []
    if len(servers) > 3:
        check.add(servers_path, f"must not have more than 3 nameservers (got {len(servers)})")
    for index, server in enumerate(servers):
        check.name(server, child_path(servers_path, index), names.ip_address_error)
    searches_path = child_path(config_path, "searches")
    searches = check.items(config.get("searches"), searches_path) or []
    if len(searches) > MAX_DNS_SEARCHES:
        check.add(
            searches_path,
            f"must not have more than {MAX_DNS_SEARCHES} search paths (got {len(searches)})",
        )
    for index, search in enumerate(searches):
        check.string(search, child_path(searches_path, index), required=True)
    length = len(" ".join(s for s in searches if isinstance(s, str)))
    if length > MAX_DNS_SEARCH_CHARS:
        check.add(
            searches_path,
            f"must not have more than {MAX_DNS_SEARCH_CHARS} characters, spaces included "
            f"(got {length})",
        )
    for item_path, option in check.mappings(
        config.get("options"), child_path(config_path, "options")
    ):
        check.string(option.get("name"), child_path(item_path, "name"), required=True)
        check.string(option.get("value"), child_path(item_path, "value"))


def check_container(
    check: Check,
    c: dict[str, Any],
    path: str,
    volumes: set[str],
    seen_names: dict[str, str],
    seen_ports: dict[str, str],
    init: bool,
) -> None:
    at = partial(child_path, path)
    name = check.name(c.get("name"), at("name"), names.dns1123_label_error)
    if name is not None:
        check.unique(name, at("name"), seen_names, "container name",
                     "; names must be unique in a pod")
    image = check.string(
        c.get("image"), at("image"), required=True, hint=': the image to run, e.g. "nginx:1.27"'
    )
    if image is not None and image != image.strip():
        check.add(at("image"), f"must not have leading or trailing whitespace (got {show(image)})")
    check.one_of(
        c.get("imagePullPolicy"), at("imagePullPolicy"), ("Always", "IfNotPresent", "Never")
    )
    for key in ("command", "args"):
        for index, arg in enumerate(check.items(c.get(key), at(key)) or []):
            check.string(arg, child_path(at(key), index), required=False)
    check.string(c.get("workingDir"), at("workingDir"))
    check_container_ports(check, c.get("ports"), at("ports"), seen_ports)
    check_env(check, c.get("env"), at("env"))
    check_env_from(check, c.get("envFrom"), at("envFrom"))
    check_mounts(check, c.get("volumeMounts"), at("volumeMounts"), volumes)
    check_resources(check, c.get("resources"), at("resources"))
    sidecar = c.get("restartPolicy") == "Always"
    if init:
        check.one_of(c.get("restartPolicy"), at("restartPolicy"), ("Always",))
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if init and not sidecar and c.get(probe) is not None:
            check.add(
                at(probe), 'may not be set for init containers without restartPolicy "Always"'
            )
            continue
        check_probe(check, c.get(probe), at(probe), liveness=probe != "readinessProbe")


def check_container_ports(
    check: Check, value: Any, path: str, seen_ports: dict[str, str]
) -> None:
    for item_path, port in check.mappings(value, path):
        at = partial(child_path, item_path)
        check.port(port.get("containerPort"), at("containerPort"))
        check.port(port.get("hostPort"), at("hostPort"), required=False)
        check.protocol(port.get("protocol"), at("protocol"))
        name = check.name(port.get("name"), at("name"), names.iana_svc_name_error, required=False)
        if name is not None:
            check.unique(name, at("name"), seen_ports, "port name",
                         "; port names must be unique in a pod")


def check_resources(check: Check, value: Any, path: str) -> None:
    resources = check.mapping(value, path)
    if resources is None:
        return
    parsed: dict[str, dict[str, Any]] = {}
    for group in ("limits", "requests"):
        group_path = child_path(path, group)
        parsed[group] = {}
        for resource, amount in (check.mapping(resources.get(group), group_path) or {}).items():
            check_quantity(check, amount, child_path(group_path, resource))
            if isinstance(amount, (str, int, float)) and not isinstance(amount, bool):
                parsed[group][resource] = names.parse_quantity(str(amount))
    for resource, request in parsed["requests"].items():
        limit = parsed["limits"].get(resource)
        if request is not None and limit is not None and request > limit:
            check.add(
                child_path(child_path(path, "requests"), resource),
                f"must be less than or equal to {resource} limit ({resources['limits'][resource]})",
            )
