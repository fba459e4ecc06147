"""Checking loaded manifests the way the Kubernetes API server would, for the fields localsvc runs.

This module owns the field rules of the supported kinds and the wording of their problems: each
problem names the file, line, object, field path, what is wrong and what is accepted. It is pure:
it reads `Manifest` objects and returns `Problem` values; it never raises for bad input, never
mutates a manifest and knows nothing of Docker or of the running environment.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from localsvc.errors import Problem
from localsvc.model import names
from localsvc.model.endpoints import SERVICE_NAME_LABEL
from localsvc.model.load import Manifest, child_path
from localsvc.model.objects import BUILTIN_NAMESPACES

FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "status.podIP",
    "spec.nodeName",
    "status.hostIP",
    "spec.serviceAccountName",
)
SUPPORTED_VOLUMES = ("configMap", "secret", "emptyDir")
_UNSUPPORTED_VOLUMES = (
    "hostPath",
    "persistentVolumeClaim",
    "projected",
    "downwardAPI",
    "nfs",
    "csi",
    "ephemeral",
    "gitRepo",
    "iscsi",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "cephfs",
    "rbd",
    "glusterfs",
    "fc",
    "flocker",
    "flexVolume",
    "cinder",
    "quobyte",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "vsphereVolume",
    "photonPersistentDisk",
    "image",
)
PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
_PERCENT = re.compile(r"[0-9]+%")


def _show(value: Any) -> str:
    """A value as a message shows it: strings quoted, lists and mappings named."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class _Check:
    """The problems of one manifest, collected with its file, line, kind and name."""

    m: Manifest
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str, line_path: str | None = None) -> None:
        """Record a problem at `path` (on the line of `line_path` when given, e.g. the cause)."""
        line = self.m.line_of(path if line_path is None else line_path)
        self.problems.append(Problem(self.m.file, line, self.m.kind, self.m.name, path, message))

    # -- shapes: each returns the value when it has the right type, else None (problem added)

    def mapping(self, value: Any, path: str, required: bool = False) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping (got {_show(value)})")
            return None
        return value

    def items(self, value: Any, path: str, required: bool = False) -> list[Any] | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, list):
            self.add(path, f"must be a list (got {_show(value)})")
            return None
        return value

    def mappings(self, value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        """The (path, mapping) of each item of an optional list of mappings."""
        out: list[tuple[str, dict[str, Any]]] = []
        for index, item in enumerate(self.items(value, path) or []):
            item_path = child_path(path, index)
            checked = self.mapping(item, item_path, required=True)
            if checked is not None:
                out.append((item_path, checked))
        return out

    def string(self, value: Any, path: str, required: bool = False, hint: str = "") -> str | None:
        if value is None or (required and value == ""):
            if required:
                self.add(path, f"required{hint}")
            return None
        if not isinstance(value, str):
            quote = "; quote it" if isinstance(value, (int, float, bool)) else ""
            self.add(path, f"must be a string{quote} (got {_show(value)})")
            return None
        return value

    def integer(
        self,
        value: Any,
        path: str,
        low: int | None = None,
        high: int | None = None,
        required: bool = False,
    ) -> int | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not _is_int(value):
            self.add(path, f"must be an integer (got {_show(value)})")
            return None
        if low is not None and high is not None and not low <= value <= high:
            self.add(path, f"must be between {low} and {high}, inclusive (got {value})")
        elif low is not None and value < low:
            self.add(path, f"must be greater than or equal to {low} (got {value})")
        return int(value)

    def boolean(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            self.add(path, f"must be true or false (got {_show(value)})")

    def one_of(
        self, value: Any, path: str, allowed: Sequence[str], required: bool = False
    ) -> str | None:
        text = self.string(value, path, required)
        if text is not None and text not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            self.add(path, f"must be one of {choices} (got {_show(text)})")
            return None
        return text

    def name(
        self, value: Any, path: str, rule: Callable[[str], str | None], required: bool = True
    ) -> str | None:
        text = self.string(value, path, required)
        if text is None or (not required and text == ""):
            return None
        error = rule(text)
        if error:
            self.add(path, error)
            return None
        return text

    def port(self, value: Any, path: str, required: bool = True) -> int | None:
        return self.integer(value, path, 1, 65535, required)

    def int_or_port_name(self, value: Any, path: str, required: bool = True) -> None:
        if isinstance(value, str):
            if value.isdigit():
                self.add(
                    path,
                    f"must be a port number or a port name (got the string "
                    f"{_show(value)}; remove the quotes for a number)",
                )
            elif error := names.iana_svc_name_error(value):
                self.add(path, f"a port name {error}")
        elif value is not None or required:
            self.port(value, path, required)

    def protocol(self, value: Any, path: str) -> None:
        if value == "SCTP":
            self.add(path, "SCTP is not supported by localsvc; use TCP or UDP")
        else:
            self.one_of(value, path, ("TCP", "UDP"))

    def exactly_one(
        self, obj: dict[str, Any], path: str, fields: Sequence[str], what: str
    ) -> str | None:
        present = [f for f in fields if obj.get(f) is not None]
        if not present:
            self.add(path, f"must specify {what}: one of {', '.join(fields)}")
            return None
        if len(present) > 1:
            self.add(
                child_path(path, present[1]),
                f"may not be specified together with {present[0]}; give exactly one of "
                f"{', '.join(fields)}",
            )
            return None
        return present[0]

    def labels(self, value: Any, path: str) -> dict[str, str]:
        """A label map (metadata.labels, a selector): keys qualified names, values label values."""
        out: dict[str, str] = {}
        for key, item in (self.mapping(value, path) or {}).items():
            item_path = child_path(path, key)
            if error := names.qualified_name_error(key):
                self.add(item_path, f"label key {error}")
            text = self.string(item, item_path)
            if text is not None:
                if error := names.label_value_error(text):
                    self.add(item_path, error)
                out[key] = text
        return out

    def ip(self, value: Any, path: str, family: int | None = None) -> None:
        text = self.string(value, path, required=True)
        if text is None:
            return
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            kind = {4: "an IPv4", 6: "an IPv6"}.get(family or 0, "an IP")
            self.add(path, f"must be {kind} address (got {_show(text)})")
            return
        if family and address.version != family:
            self.add(path, f"must be an IPv{family} address (got {_show(text)})")
        elif address.is_loopback or address.is_link_local or address.is_multicast:
            self.add(
                path, f"may not be a loopback, link-local or multicast address (got {_show(text)})"
            )


# ---------------------------------------------------------------- entry points


def validate(manifests: Sequence[Manifest]) -> list[Problem]:
    """Every problem of `manifests` at once, in file order (files as first met, then lines)."""
    problems: list[Problem] = []
    first_seen: dict[Any, Manifest] = {}
    for m in manifests:
        check = _Check(m)
        _check_object(check)
        _check_duplicate(check, first_seen)
        problems.extend(check.problems)
    files: dict[str, int] = {}
    for m in manifests:
        files.setdefault(m.file, len(files))
    return sorted(problems, key=lambda p: (files.get(p.file, len(files)), p.line or 0))


def undeclared_namespaces(manifests: Sequence[Manifest]) -> list[str]:
    """Namespaces objects use that no Namespace object declares (built-in ones excepted)."""
    declared = {m.name for m in manifests if m.kind == "Namespace"}
    used = {m.namespace for m in manifests if m.namespace}
    return sorted(used - declared - BUILTIN_NAMESPACES)


def _check_duplicate(check: _Check, first_seen: dict[Any, Manifest]) -> None:
    m = check.m
    if not m.name or not isinstance(m.metadata.get("name"), str):
        return
    first = first_seen.setdefault(m.key, m)
    if first is not m:
        check.add(
            "metadata.name", f"duplicate {m.key}: already defined at {first.file}:{first.line}"
        )


def _check_object(check: _Check) -> None:
    kind = check.m.kind
    name_rule = {
        "Namespace": names.dns1123_label_error,
        "Service": names.dns1035_label_error,
    }.get(kind, names.dns1123_subdomain_error)
    _check_metadata(check, check.m.obj.get("metadata"), "metadata", name_rule)
    spec_checks: dict[str, Callable[[_Check], None]] = {
        "Pod": _check_pod,
        "Deployment": _check_deployment,
        "Service": _check_service,
        "ConfigMap": _check_configmap,
        "Secret": _check_secret,
        "Endpoints": _check_endpoints,
        "EndpointSlice": _check_endpointslice,
    }
    if kind in spec_checks:
        spec_checks[kind](check)


def _check_metadata(
    check: _Check, value: Any, path: str, name_rule: Callable[[str], str | None] | None
) -> dict[str, str]:
    """Object metadata (name_rule None: a pod template's, where the name is not required)."""
    meta = check.mapping(value, path, required=name_rule is not None) or {}
    if name_rule is not None:
        check.name(meta.get("name"), child_path(path, "name"), name_rule)
        check.name(
            meta.get("namespace"),
            child_path(path, "namespace"),
            names.dns1123_label_error,
            required=False,
        )
    labels = check.labels(meta.get("labels"), child_path(path, "labels"))
    annotations_path = child_path(path, "annotations")
    for key, item in (check.mapping(meta.get("annotations"), annotations_path) or {}).items():
        item_path = child_path(annotations_path, key)
        if error := names.qualified_name_error(key):
            check.add(item_path, f"annotation key {error}")
        check.string(item, item_path)
    return labels


# ---------------------------------------------------------------- pods


def _check_pod(check: _Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is not None:
        _check_pod_spec(check, spec, "spec", ("Always", "OnFailure", "Never"))


def _check_pod_spec(
    check: _Check, spec: dict[str, Any], path: str, restart_policies: Sequence[str]
) -> None:
    at = partial(child_path, path)
    volumes = _check_volumes(check, spec.get("volumes"), at("volumes"))
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
            _check_container(
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
        check.add(at("restartPolicy"), f'must be "Always" for a Deployment (got {_show(policy)})')
    else:
        check.one_of(policy, at("restartPolicy"), restart_policies)
    check.integer(
        spec.get("terminationGracePeriodSeconds"), at("terminationGracePeriodSeconds"), low=0
    )
    check.integer(spec.get("activeDeadlineSeconds"), at("activeDeadlineSeconds"), low=1)
    for key in ("hostname", "subdomain"):
        check.name(spec.get(key), at(key), names.dns1123_label_error, required=False)
    check.string(spec.get("serviceAccountName"), at("serviceAccountName"))
    _check_dns(check, spec, path)


def _check_dns(check: _Check, spec: dict[str, Any], path: str) -> None:
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
        check.ip(server, child_path(servers_path, index))
    searches_path = child_path(config_path, "searches")
    for index, search in enumerate(check.items(config.get("searches"), searches_path) or []):
        check.string(search, child_path(searches_path, index), required=True)
    for item_path, option in check.mappings(
        config.get("options"), child_path(config_path, "options")
    ):
        check.string(option.get("name"), child_path(item_path, "name"), required=True)
        check.string(option.get("value"), child_path(item_path, "value"))


def _check_container(
    check: _Check,
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
        if name in seen_names:
            check.add(
                at("name"),
                f'duplicate container name "{name}" (also at '
                f"{seen_names[name]}); names must be unique in a pod",
            )
        seen_names.setdefault(name, at("name"))
    image = check.string(
        c.get("image"), at("image"), required=True, hint=': the image to run, e.g. "nginx:1.27"'
    )
    if image is not None and image != image.strip():
        check.add(at("image"), f"must not have leading or trailing whitespace (got {_show(image)})")
    check.one_of(
        c.get("imagePullPolicy"), at("imagePullPolicy"), ("Always", "IfNotPresent", "Never")
    )
    for key in ("command", "args"):
        for index, arg in enumerate(check.items(c.get(key), at(key)) or []):
            check.string(arg, child_path(at(key), index), required=False)
    check.string(c.get("workingDir"), at("workingDir"))
    _check_container_ports(check, c.get("ports"), at("ports"), seen_ports)
    _check_env(check, c.get("env"), at("env"))
    _check_env_from(check, c.get("envFrom"), at("envFrom"))
    _check_mounts(check, c.get("volumeMounts"), at("volumeMounts"), volumes)
    _check_resources(check, c.get("resources"), at("resources"))
    sidecar = c.get("restartPolicy") == "Always"
    if init:
        check.one_of(c.get("restartPolicy"), at("restartPolicy"), ("Always",))
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if init and not sidecar and c.get(probe) is not None:
            check.add(
                at(probe), 'may not be set for init containers without restartPolicy "Always"'
            )
            continue
        _check_probe(check, c.get(probe), at(probe), liveness=probe != "readinessProbe")


def _check_container_ports(
    check: _Check, value: Any, path: str, seen_ports: dict[str, str]
) -> None:
    for item_path, port in check.mappings(value, path):
        at = partial(child_path, item_path)
        check.port(port.get("containerPort"), at("containerPort"))
        check.port(port.get("hostPort"), at("hostPort"), required=False)
        check.protocol(port.get("protocol"), at("protocol"))
        name = check.name(port.get("name"), at("name"), names.iana_svc_name_error, required=False)
        if name is not None:
            if name in seen_ports:
                check.add(
                    at("name"),
                    f'duplicate port name "{name}" (also at '
                    f"{seen_ports[name]}); port names must be unique in a pod",
                )
            seen_ports.setdefault(name, at("name"))


def _check_env(check: _Check, value: Any, path: str) -> None:
    for item_path, env in check.mappings(value, path):
        at = partial(child_path, item_path)
        check.name(env.get("name"), at("name"), names.env_var_name_error)
        check.string(env.get("value"), at("value"))
        source = check.mapping(env.get("valueFrom"), at("valueFrom"))
        if source is None:
            continue
        if env.get("value") not in (None, ""):
            check.add(at("valueFrom"), "may not be specified when `value` is not empty")
            continue
        _check_env_source(check, source, at("valueFrom"))


def _check_env_source(check: _Check, source: dict[str, Any], path: str) -> None:
    if source.get("resourceFieldRef") is not None:
        check.add(
            child_path(path, "resourceFieldRef"),
            "resourceFieldRef is not supported by localsvc; supported: configMapKeyRef, "
            "secretKeyRef, fieldRef",
        )
        return
    chosen = check.exactly_one(
        source, path, ("configMapKeyRef", "secretKeyRef", "fieldRef"), "a source"
    )
    if chosen is None:
        return
    ref_path = child_path(path, chosen)
    ref = check.mapping(source[chosen], ref_path) or {}
    if chosen == "fieldRef":
        field_path = check.string(
            ref.get("fieldPath"), child_path(ref_path, "fieldPath"), required=True
        )
        if field_path is not None and field_path not in FIELD_PATHS:
            check.add(
                child_path(ref_path, "fieldPath"),
                f"{_show(field_path)} is not supported by localsvc; supported: "
                f"{', '.join(FIELD_PATHS)}",
            )
        return
    check.string(ref.get("name"), child_path(ref_path, "name"), required=True)
    check.name(ref.get("key"), child_path(ref_path, "key"), names.config_key_error)
    check.boolean(ref.get("optional"), child_path(ref_path, "optional"))


def _check_env_from(check: _Check, value: Any, path: str) -> None:
    for item_path, source in check.mappings(value, path):
        chosen = check.exactly_one(source, item_path, ("configMapRef", "secretRef"), "a source")
        prefix = check.string(source.get("prefix"), child_path(item_path, "prefix"))
        if prefix and (error := names.env_var_name_error(prefix)):
            check.add(child_path(item_path, "prefix"), error)
        if chosen is not None:
            ref_path = child_path(item_path, chosen)
            ref = check.mapping(source[chosen], ref_path) or {}
            check.string(ref.get("name"), child_path(ref_path, "name"), required=True)
            check.boolean(ref.get("optional"), child_path(ref_path, "optional"))


def _check_mounts(check: _Check, value: Any, path: str, volumes: set[str]) -> None:
    seen: dict[str, str] = {}
    for item_path, mount in check.mappings(value, path):
        at = partial(child_path, item_path)
        name = check.string(mount.get("name"), at("name"), required=True)
        if name is not None and name not in volumes:
            known = ", ".join(sorted(volumes)) or "none"
            check.add(
                at("name"), f'no volume named "{name}" in the pod\'s volumes (volumes: {known})'
            )
        mount_path = check.string(mount.get("mountPath"), at("mountPath"), required=True)
        if mount_path is not None:
            if not mount_path.startswith("/"):
                check.add(at("mountPath"), f"must be an absolute path (got {_show(mount_path)})")
            elif mount_path in seen:
                check.add(at("mountPath"), f"must be unique (also at {seen[mount_path]})")
            seen.setdefault(mount_path, at("mountPath"))
        for key in ("subPath", "subPathExpr"):
            if mount.get(key) not in (None, ""):
                check.add(
                    at(key),
                    f"{key} is not supported by localsvc (mount the whole volume or use items)",
                )
        check.boolean(mount.get("readOnly"), at("readOnly"))


def _check_volumes(check: _Check, value: Any, path: str) -> set[str]:
    """Check the pod's volumes; the names of all of them (for volumeMounts)."""
    seen: dict[str, str] = {}
    for item_path, volume in check.mappings(value, path):
        at = partial(child_path, item_path)
        name = check.name(volume.get("name"), at("name"), names.dns1123_label_error)
        if name is not None:
            if name in seen:
                check.add(at("name"), f'duplicate volume name "{name}" (also at {seen[name]})')
            seen.setdefault(name, at("name"))
        elif isinstance(volume.get("name"), str):
            seen.setdefault(volume["name"], at("name"))
        _check_volume_source(check, volume, item_path)
    return set(seen)


def _check_volume_source(check: _Check, volume: dict[str, Any], path: str) -> None:
    unsupported = [
        k
        for k in volume
        if k not in (*SUPPORTED_VOLUMES, "name")
        and (k in _UNSUPPORTED_VOLUMES or isinstance(volume[k], dict))
    ]
    if unsupported:
        check.add(
            child_path(path, unsupported[0]),
            f"volume type {unsupported[0]} is not supported by localsvc; supported: "
            f"{', '.join(SUPPORTED_VOLUMES)}",
        )
        return
    present = [k for k in SUPPORTED_VOLUMES if k in volume]
    if len(present) > 1:  # none at all: the API server defaults it to emptyDir
        check.add(
            child_path(path, present[1]),
            f"may not specify more than 1 volume type (got {', '.join(present)})",
        )
        return
    if not present:
        return
    kind = present[0]
    source_path = child_path(path, kind)
    source = check.mapping(volume[kind], source_path)
    if kind == "emptyDir":
        source = source or {}
        check.one_of(source.get("medium"), child_path(source_path, "medium"), ("", "Memory"))
        _check_quantity(check, source.get("sizeLimit"), child_path(source_path, "sizeLimit"))
        return
    name_key = "name" if kind == "configMap" else "secretName"
    check.string((source or {}).get(name_key), child_path(source_path, name_key), required=True)
    if source is not None:
        _check_key_items(check, source.get("items"), child_path(source_path, "items"))
        check.integer(source.get("defaultMode"), child_path(source_path, "defaultMode"), 0, 0o777)
        check.boolean(source.get("optional"), child_path(source_path, "optional"))


def _check_key_items(check: _Check, value: Any, path: str) -> None:
    for item_path, item in check.mappings(value, path):
        check.name(item.get("key"), child_path(item_path, "key"), names.config_key_error)
        file_path = check.string(item.get("path"), child_path(item_path, "path"), required=True)
        if file_path is None:
            continue
        if file_path.startswith("/"):
            check.add(
                child_path(item_path, "path"), f"must be a relative path (got {_show(file_path)})"
            )
        elif ".." in posixpath.normpath(file_path).split("/") or ".." in file_path.split("/"):
            check.add(
                child_path(item_path, "path"), f"must not contain '..' (got {_show(file_path)})"
            )
        check.integer(item.get("mode"), child_path(item_path, "mode"), 0, 0o777)


def _check_quantity(check: _Check, value: Any, path: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        check.add(path, f"{names.QUANTITY_MSG} (got {_show(value)})")
        return
    number = names.parse_quantity(str(value))
    if number is None:
        check.add(path, f"{names.QUANTITY_MSG} (got {_show(value)})")
    elif number < 0:
        check.add(path, f"must be greater than or equal to 0 (got {_show(value)})")


def _check_resources(check: _Check, value: Any, path: str) -> None:
    resources = check.mapping(value, path)
    if resources is None:
        return
    parsed: dict[str, dict[str, Any]] = {}
    for group in ("limits", "requests"):
        group_path = child_path(path, group)
        parsed[group] = {}
        for resource, amount in (check.mapping(resources.get(group), group_path) or {}).items():
            _check_quantity(check, amount, child_path(group_path, resource))
            if isinstance(amount, (str, int, float)) and not isinstance(amount, bool):
                parsed[group][resource] = names.parse_quantity(str(amount))
    for resource, request in parsed["requests"].items():
        limit = parsed["limits"].get(resource)
        if request is not None and limit is not None and request > limit:
            check.add(
                child_path(child_path(path, "requests"), resource),
                f"must be less than or equal to {resource} limit ({resources['limits'][resource]})",
            )


def _check_probe(check: _Check, value: Any, path: str, liveness: bool) -> None:
    probe = check.mapping(value, path)
    if probe is None:
        return
    at = partial(child_path, path)
    handler = check.exactly_one(probe, path, PROBE_HANDLERS, "a handler type")
    if handler is not None:
        action = check.mapping(probe[handler], at(handler)) or {}
        port_path = child_path(at(handler), "port")
        if handler in ("httpGet", "tcpSocket"):
            check.int_or_port_name(action.get("port"), port_path)
        elif handler == "grpc":
            check.port(action.get("port"), port_path)
        else:
            command_path = child_path(at(handler), "command")
            command = check.items(action.get("command"), command_path, required=True)
            if command == []:
                check.add(command_path, "must have at least one item: the program to run")
            for index, arg in enumerate(command or []):
                check.string(arg, child_path(command_path, index))
        if handler == "httpGet":
            check.string(action.get("path"), child_path(at(handler), "path"))
            check.one_of(action.get("scheme"), child_path(at(handler), "scheme"), ("HTTP", "HTTPS"))
    check.integer(probe.get("initialDelaySeconds"), at("initialDelaySeconds"), low=0)
    for key in ("periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        # 0 is allowed: the API server replaces it with the default.
        check.integer(probe.get(key), at(key), low=0)
    if liveness and probe.get("successThreshold") not in (None, 0, 1):
        check.add(
            at("successThreshold"),
            f"must be 1 for liveness and startup probes (got {_show(probe['successThreshold'])})",
        )


# ---------------------------------------------------------------- Deployment


def _check_deployment(check: _Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    check.integer(spec.get("replicas"), "spec.replicas", low=0)
    check.integer(spec.get("minReadySeconds"), "spec.minReadySeconds", low=0)
    check.integer(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", low=0)
    check.boolean(spec.get("paused"), "spec.paused")
    selector = check.mapping(spec.get("selector"), "spec.selector")
    if selector is None and spec.get("selector") is None:
        check.add(
            "spec.selector",
            "required: the labels of the pods this Deployment owns, e.g. matchLabels: {app: web}",
        )
    template = check.mapping(spec.get("template"), "spec.template", required=True)
    labels: dict[str, str] = {}
    if template is not None:
        labels = _check_metadata(check, template.get("metadata"), "spec.template.metadata", None)
        pod_spec = check.mapping(template.get("spec"), "spec.template.spec", required=True)
        if pod_spec is not None:
            _check_pod_spec(check, pod_spec, "spec.template.spec", ("Always",))
    if selector is not None:
        matches = _check_selector(check, selector, "spec.selector")
        if matches is not None and template is not None and not matches(labels):
            check.add(
                "spec.template.metadata.labels",
                f"`selector` does not match template `labels` (selector: "
                f"{_describe_selector(selector)}; labels: {_describe_labels(labels)})",
            )
    _check_strategy(check, spec.get("strategy"), "spec.strategy")


def _check_selector(
    check: _Check, selector: dict[str, Any], path: str
) -> Callable[[dict[str, str]], bool] | None:
    """Check a label selector; a function telling whether it matches a label set (None: bad)."""
    ok = True
    match_labels = check.labels(selector.get("matchLabels"), child_path(path, "matchLabels"))
    expressions: list[tuple[str, str, list[str]]] = []
    exprs_path = child_path(path, "matchExpressions")
    for item_path, expr in check.mappings(selector.get("matchExpressions"), exprs_path):
        parsed = _check_expression(check, expr, item_path)
        if parsed is None:
            ok = False
        else:
            expressions.append(parsed)
    if not match_labels and not expressions and ok:
        check.add(
            path,
            "empty selector is invalid for deployment: give matchLabels and/or matchExpressions",
        )
        return None
    if not ok:
        return None

    def matches(labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in match_labels.items()):
            return False
        return all(_expression_matches(e, labels) for e in expressions)

    return matches


def _check_expression(
    check: _Check, expr: dict[str, Any], path: str
) -> tuple[str, str, list[str]] | None:
    key = check.name(expr.get("key"), child_path(path, "key"), names.qualified_name_error)
    operator = check.one_of(
        expr.get("operator"),
        child_path(path, "operator"),
        ("In", "NotIn", "Exists", "DoesNotExist"),
        required=True,
    )
    values_path = child_path(path, "values")
    values = check.items(expr.get("values"), values_path) or []
    strings = [v for i, v in enumerate(values) if check.string(v, child_path(values_path, i))]
    if operator in ("In", "NotIn") and not values:
        check.add(values_path, f"must be specified when `operator` is '{operator}'")
        return None
    if operator in ("Exists", "DoesNotExist") and values:
        check.add(values_path, f"may not be specified when `operator` is '{operator}'")
        return None
    if key is None or operator is None or len(strings) != len(values):
        return None
    return key, operator, strings


def _expression_matches(expr: tuple[str, str, list[str]], labels: dict[str, str]) -> bool:
    key, operator, values = expr
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    return key not in labels


def _describe_labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


def _describe_selector(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        if isinstance(expr, dict):
            values = ",".join(str(v) for v in expr.get("values") or [])
            parts.append(f"{expr.get('key')} {expr.get('operator')} ({values})".replace(" ()", ""))
    return ",".join(parts)


def _check_strategy(check: _Check, value: Any, path: str) -> None:
    strategy = check.mapping(value, path)
    if strategy is None:
        return
    kind = check.one_of(
        strategy.get("type"), child_path(path, "type"), ("RollingUpdate", "Recreate")
    )
    update_path = child_path(path, "rollingUpdate")
    update = check.mapping(strategy.get("rollingUpdate"), update_path)
    if update is None:
        return
    if kind == "Recreate":
        check.add(update_path, "may not be specified when strategy `type` is 'Recreate'")
        return
    surge = _check_int_or_percent(
        check, update.get("maxSurge"), child_path(update_path, "maxSurge")
    )
    unavailable = _check_int_or_percent(
        check, update.get("maxUnavailable"), child_path(update_path, "maxUnavailable")
    )
    if surge == 0 and unavailable == 0:
        check.add(child_path(update_path, "maxUnavailable"), "may not be 0 when maxSurge is 0")


def _check_int_or_percent(check: _Check, value: Any, path: str) -> int | None:
    """An integer >= 0 or a percentage like "25%"; its number (None when unset or bad)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            check.add(
                path, f'must be an integer or a percentage such as "25%" (got {_show(value)})'
            )
            return None
        percent = int(value[:-1])
        if path.endswith("maxUnavailable") and percent > 100:
            check.add(path, f"must not be greater than 100% (got {_show(value)})")
        return percent
    return check.integer(value, path, low=0)


# ---------------------------------------------------------------- Service


def _check_service(check: _Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec") or {}
    kind = (
        check.one_of(
            spec.get("type"), "spec.type", ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
        )
        or "ClusterIP"
    )
    cluster_ip = _check_cluster_ip(check, spec, kind)
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
    _check_service_ports(check, spec.get("ports") if ports else None, kind)
    check.labels(spec.get("selector"), "spec.selector")
    _check_affinity(check, spec)
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


def _check_cluster_ip(check: _Check, spec: dict[str, Any], kind: str) -> str | None:
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
            "spec.clusterIP", f'must be "", "None" or an IPv4 address (got {_show(cluster_ip)})'
        )
    return cluster_ip


def _check_service_ports(check: _Check, value: Any, kind: str) -> None:
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
            if name in seen_names:
                check.add(at("name"), f'duplicate port name "{name}" (also at {seen_names[name]})')
            seen_names.setdefault(name, at("name"))
        protocol = port.get("protocol") or "TCP"
        if number is not None and isinstance(protocol, str):
            pair = (number, protocol)
            if pair in seen_pairs:
                check.add(
                    at("port"), f"duplicate port {number}/{protocol} (also at {seen_pairs[pair]})"
                )
            seen_pairs.setdefault(pair, item_path)


def _check_affinity(check: _Check, spec: dict[str, Any]) -> None:
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


# ---------------------------------------------------------------- ConfigMap, Secret


def _check_configmap(check: _Check) -> None:
    data = check.mapping(check.m.obj.get("data"), "data") or {}
    for key, value in data.items():
        path = child_path("data", key)
        _check_config_key(check, key, path)
        check.string(value, path)
    binary = check.mapping(check.m.obj.get("binaryData"), "binaryData") or {}
    for key, value in binary.items():
        path = child_path("binaryData", key)
        _check_config_key(check, key, path)
        if key in data:
            check.add(
                path,
                f'duplicate of key "{key}" in data; a key may be in data or in '
                "binaryData, not both",
            )
        _check_base64(check, value, path, "")
    check.boolean(check.m.obj.get("immutable"), "immutable")


def _check_secret(check: _Check) -> None:
    check.string(check.m.obj.get("type"), "type")
    data = check.mapping(check.m.obj.get("data"), "data") or {}
    for key, value in data.items():
        path = child_path("data", key)
        _check_config_key(check, key, path)
        _check_base64(check, value, path, "; use stringData for plain text")
    string_data = check.mapping(check.m.obj.get("stringData"), "stringData") or {}
    for key, value in string_data.items():
        path = child_path("stringData", key)
        _check_config_key(check, key, path)
        check.string(value, path)
    check.boolean(check.m.obj.get("immutable"), "immutable")


def _check_config_key(check: _Check, key: str, path: str) -> None:
    if error := names.config_key_error(key):
        check.add(path, error)


def _check_base64(check: _Check, value: Any, path: str, hint: str) -> None:
    text = check.string(value, path)
    if text is None:
        return
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        shown = _show(text if len(text) <= 40 else text[:37] + "...")
        check.add(path, f"must be base64-encoded (got {shown}){hint}")


# ---------------------------------------------------------------- Endpoints, EndpointSlice


def _check_endpoints(check: _Check) -> None:
    for subset_path, subset in check.mappings(check.m.obj.get("subsets"), "subsets"):
        for key in ("addresses", "notReadyAddresses"):
            for address_path, address in check.mappings(
                subset.get(key), child_path(subset_path, key)
            ):
                check.ip(address.get("ip"), child_path(address_path, "ip"))
                check.name(
                    address.get("hostname"),
                    child_path(address_path, "hostname"),
                    names.dns1123_label_error,
                    required=False,
                )
        _check_endpoint_ports(
            check, subset.get("ports"), child_path(subset_path, "ports"), nullable=False
        )


def _check_endpoint_ports(check: _Check, value: Any, path: str, nullable: bool) -> None:
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
            if name in seen:
                check.add(at("name"), f'duplicate port name "{name}" (also at {seen[name]})')
            seen.setdefault(name, at("name"))


def _check_endpointslice(check: _Check) -> None:
    labels = check.m.metadata.get("labels")
    if not isinstance(labels, dict) or not labels.get(SERVICE_NAME_LABEL):
        check.add(
            "metadata.labels",
            f'the label "{SERVICE_NAME_LABEL}" is required: it links the slice to its Service',
        )
    address_type = check.one_of(
        check.m.obj.get("addressType"), "addressType", ("IPv4", "IPv6", "FQDN"), required=True
    )
    for item_path, endpoint in check.mappings(check.m.obj.get("endpoints"), "endpoints"):
        addresses_path = child_path(item_path, "addresses")
        addresses = check.items(endpoint.get("addresses"), addresses_path, required=True)
        if addresses == []:
            check.add(addresses_path, "must contain at least 1 address")
        for index, address in enumerate(addresses or []):
            _check_slice_address(check, address, child_path(addresses_path, index), address_type)
        check.name(
            endpoint.get("hostname"),
            child_path(item_path, "hostname"),
            names.dns1123_label_error,
            required=False,
        )
        conditions_path = child_path(item_path, "conditions")
        for key, flag in (check.mapping(endpoint.get("conditions"), conditions_path) or {}).items():
            check.boolean(flag, child_path(conditions_path, key))
    _check_endpoint_ports(check, check.m.obj.get("ports"), "ports", nullable=True)


def _check_slice_address(check: _Check, address: Any, path: str, address_type: str | None) -> None:
    if address_type == "IPv4":
        check.ip(address, path, family=4)
    elif address_type == "IPv6":
        check.ip(address, path, family=6)
    elif address_type == "FQDN":
        text = check.string(address, path, required=True)
        if text is not None and (error := names.dns1123_subdomain_error(text)):
            check.add(path, error)
