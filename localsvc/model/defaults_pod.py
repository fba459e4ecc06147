"""The API server's defaults for a pod spec, wherever one is stored: a Pod (with what the default
admission plugins add), or the template of a Deployment, ReplicaSet, StatefulSet, Job
or CronJob. Pure; the functions here fill in a mutable copy the caller owns.

Mirrors Kubernetes 1.32 pkg/apis/core/v1/defaults.go (SetDefaults_PodSpec, _Container, _Probe,
_HTTPGetAction, _ObjectFieldSelector, the volume sources) as zz_generated.defaults.go applies
them, and the `+default` markers of core/v1 types.go (ContainerPort.protocol TCP, GRPCAction
.service ""). Go cannot tell a missing number from a zero, so a 0 the user wrote is defaulted
as the server does. Only fields the server sets: never one it leaves unset.
"""

from __future__ import annotations

import re
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from localsvc.model.names import parse_quantity

Obj = dict[str, Any]

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
# Octal 0644, the mode of files from configMap, secret, downwardAPI and projected volumes.
DEFAULT_FILE_MODE = 420
# A projected service-account token lives an hour unless the pod says otherwise.
TOKEN_EXPIRATION_SECONDS = 3600
# The fields of core/v1 VolumeSource: a volume that sets none of them is an emptyDir.
VOLUME_SOURCES = frozenset({
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs",
    "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos",
    "csi", "ephemeral", "image"})

# The image reference grammar (distribution/reference), for parsers.ParseImageName: an image
# that does not parse has no tag, and then its pull policy is IfNotPresent.
_DOMAIN_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*)"
                        rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$", re.ASCII)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


def image_tag(image: str) -> str:
    """The tag parsers.ParseImageName gives: the image's tag, "latest" when it has neither tag
    nor digest, "" when it has only a digest or does not parse."""
    match = _REFERENCE.match(image)
    if match is None or len(match["name"]) > 255 or _HEX64.match(match["name"]):
        return ""
    if match["tag"]:
        return match["tag"]
    return "" if match["digest"] else "latest"


def default_pull_policy(image: str) -> str:
    """SetDefaults_Container: Always for :latest (or no tag), IfNotPresent otherwise."""
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _fill(obj: Obj, key: str, value: Any) -> None:
    """Set `key` when Go would see its zero value there (missing, null, "" or 0)."""
    current = obj.get(key)
    if current is None or current == "" or (current == 0 and not isinstance(current, bool)):
        obj[key] = value


def _fill_missing(obj: Obj, key: str, value: Any) -> None:
    """Set `key` when it is absent or null: a pointer field, where an explicit zero stays."""
    if obj.get(key) is None:
        obj[key] = value


def _mappings(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _mapping(obj: Obj, key: str) -> Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P",
                     18: "E"}
_MILLI = Decimal("0.001")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _quantity_value(text: str) -> Decimal | None:
    """names.parse_quantity, except for the exa suffixes E and Ei, which it reads as the start
    of an exponent (and raises on)."""
    for suffix, factor in (("Ei", Decimal(1024) ** 6), ("E", Decimal(10) ** 18)):
        head = text[:-len(suffix)]
        if text.endswith(suffix) and _PLAIN_NUMBER.fullmatch(head):
            return Decimal(head) * factor
    return parse_quantity(text)


def canonical_quantity(quantity: Any, round_to_milli: bool) -> Any:
    """A quantity as the server writes it back (resource.Quantity's canonical form, in the
    suffix family it was written in: 0.5 -> 500m, 1024Mi -> 1Gi, 1.5Gi -> 1536Mi, 100000 ->
    100k, 1e3 -> 1e3); a ResourceList's values are first rounded up to a milli-unit
    (SetDefaults_ResourceList). Anything that does not parse is returned unchanged."""
    text = str(quantity)
    value = None if isinstance(quantity, bool) else _quantity_value(text)
    if value is None:
        return quantity
    if round_to_milli:
        try:
            value = value.quantize(_MILLI, rounding=ROUND_UP)
        except InvalidOperation:  # too many digits for a milli-unit: no rounding to do
            pass
    if value == 0:
        return "0"
    suffix = text.lstrip("+-0123456789.")
    if suffix in _BINARY_SUFFIXES[1:] and abs(value) >= 1024 and value == value.to_integral():
        mantissa, power = int(value), 0  # base 1024, as AsCanonicalBase1024Bytes
        while mantissa % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
            mantissa, power = mantissa // 1024, power + 1
        return f"{mantissa}{_BINARY_SUFFIXES[power]}"
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # a parsed quantity is finite
    mantissa = int("".join(map(str, digits))) * (10 ** (exponent % 3))
    exponent -= exponent % 3  # an integer mantissa times a power of 1000, as AsCanonicalBytes
    number = f"{'-' if sign else ''}{mantissa}"
    exponent_format = suffix[:1] in ("e", "E") and suffix not in ("E", "Ei")
    if exponent_format or exponent not in _DECIMAL_SUFFIXES:
        return number + (f"e{exponent}" if exponent else "")
    return number + _DECIMAL_SUFFIXES[exponent]


def default_resource_list(holder: Obj, key: str) -> None:
    """SetDefaults_ResourceList on holder[key], and the canonical form of its quantities."""
    resources = _mapping(holder, key)
    if resources is not None:
        holder[key] = {name: canonical_quantity(quantity, round_to_milli=True)
                       for name, quantity in resources.items()}


def default_requirements(holder: Obj, key: str = "resources") -> None:
    """The limits and requests of holder[key] (a ResourceRequirements)."""
    requirements = _mapping(holder, key)
    if requirements is not None:
        default_resource_list(requirements, "limits")
        default_resource_list(requirements, "requests")


def default_http_get(action: Obj) -> None:
    _fill(action, "path", "/")
    _fill(action, "scheme", "HTTP")


def default_probe(probe: Obj) -> None:
    _fill(probe, "timeoutSeconds", 1)
    _fill(probe, "periodSeconds", 10)
    _fill(probe, "successThreshold", 1)
    _fill(probe, "failureThreshold", 3)
    http_get = _mapping(probe, "httpGet")
    if http_get is not None:
        default_http_get(http_get)
    grpc = _mapping(probe, "grpc")
    if grpc is not None:  # GRPCAction.service is `+default=""`: a nil pointer becomes ""
        _fill_missing(grpc, "service", "")


def default_field_ref(holder: Obj) -> None:
    """SetDefaults_ObjectFieldSelector on holder["fieldRef"]: apiVersion v1."""
    field_ref = _mapping(holder, "fieldRef")
    if field_ref is not None:
        _fill(field_ref, "apiVersion", "v1")


def default_container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        image = container.get("image")
        container["imagePullPolicy"] = default_pull_policy(image if isinstance(image, str) else "")
    _fill(container, "terminationMessagePath", "/dev/termination-log")
    _fill(container, "terminationMessagePolicy", "File")
    # resources is a struct, not a pointer: the server always writes it, {} when empty.
    _fill_missing(container, "resources", {})
    default_requirements(container)
    for port in _mappings(container.get("ports")):
        _fill(port, "protocol", "TCP")
    for env in _mappings(container.get("env")):
        value_from = _mapping(env, "valueFrom")
        if value_from is not None:
            default_field_ref(value_from)
    for probe_key in PROBES:
        probe = _mapping(container, probe_key)
        if probe is not None:
            default_probe(probe)
    lifecycle = _mapping(container, "lifecycle")
    for hook_key in ("postStart", "preStop"):
        hook = _mapping(lifecycle, hook_key) if lifecycle is not None else None
        http_get = _mapping(hook, "httpGet") if hook is not None else None
        if http_get is not None:
            default_http_get(http_get)


def default_volume(volume: Obj) -> None:
    if all(volume.get(key) is None for key in VOLUME_SOURCES):  # SetDefaults_Volume
        volume["emptyDir"] = {}
    empty_dir = _mapping(volume, "emptyDir")
    if empty_dir is not None and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = canonical_quantity(empty_dir["sizeLimit"], round_to_milli=False)
    for source_key in ("configMap", "secret"):
        source = _mapping(volume, source_key)
        if source is not None:
            _fill_missing(source, "defaultMode", DEFAULT_FILE_MODE)
    host_path = _mapping(volume, "hostPath")
    if host_path is not None:  # HostPathUnset: a pointer to ""
        _fill_missing(host_path, "type", "")
    downward = _mapping(volume, "downwardAPI")
    if downward is not None:
        _fill_missing(downward, "defaultMode", DEFAULT_FILE_MODE)
        for item in _mappings(downward.get("items")):
            default_field_ref(item)
    projected = _mapping(volume, "projected")
    if projected is not None:
        _fill_missing(projected, "defaultMode", DEFAULT_FILE_MODE)
        for source in _mappings(projected.get("sources")):
            projected_downward = _mapping(source, "downwardAPI")
            for item in _mappings(projected_downward.get("items") if projected_downward else None):
                default_field_ref(item)
            token = _mapping(source, "serviceAccountToken")
            if token is not None:
                _fill_missing(token, "expirationSeconds", TOKEN_EXPIRATION_SECONDS)
    ephemeral = _mapping(volume, "ephemeral")
    claim = _mapping(ephemeral, "volumeClaimTemplate") if ephemeral is not None else None
    claim_spec = _mapping(claim, "spec") if claim is not None else None
    if claim_spec is not None:
        default_claim_spec(claim_spec)


def default_claim_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec and its resource lists."""
    _fill_missing(spec, "volumeMode", "Filesystem")
    default_requirements(spec)


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and what zz_generated applies below it; for templates and pods."""
    _fill(spec, "dnsPolicy", "ClusterFirst")
    _fill(spec, "restartPolicy", "Always")
    _fill_missing(spec, "securityContext", {})
    _fill_missing(spec, "terminationGracePeriodSeconds", 30)
    _fill(spec, "schedulerName", "default-scheduler")
    for volume in _mappings(spec.get("volumes")):
        default_volume(volume)
    for list_key in CONTAINER_LISTS:
        for container in _mappings(spec.get(list_key)):
            default_container(container)
    default_resource_list(spec, "overhead")
    # v1 conversion: serviceAccount is the deprecated twin of serviceAccountName, written back
    # from it on every read, and read into it when only the old name is given.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


# Priority admission: the priorities of the two PriorityClasses every cluster has; with no
# class named (and no globalDefault class, which localsvc never has) a pod's priority is 0.
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
# DefaultTolerationSeconds admission: the taints a node gets when it stops answering.
_EVICTION_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_EVICTION_TOLERATION_SECONDS = 300


def _requests_from_limits(container: Obj) -> None:
    """SetDefaults_Pod: a limit without a request also requests that much."""
    resources = _mapping(container, "resources")
    limits = _mapping(resources, "limits") if resources is not None else None
    requests = resources.get("requests") if resources is not None else None
    if resources is None or limits is None or not isinstance(requests, dict | None):
        return  # nothing to copy, or a value of the wrong type for validation to report
    requests = {**limits, **(requests or {})}
    if requests:  # an empty map is omitted on the wire, as requests: {} never shows
        resources["requests"] = requests


def _tolerates_eviction_taint(tolerations: list[Obj], taint_key: str) -> bool:
    """As the admission plugin checks it: same key or any key, NoExecute or any effect."""
    return any(t.get("key") in (taint_key, "", None) and t.get("effect") in ("NoExecute", "", None)
               for t in tolerations)


def default_pod(spec: Obj) -> None:
    """A Pod's spec (not a template's): SetDefaults_Pod after SetDefaults_PodSpec, then what the
    default admission plugins add on create (ServiceAccount, Priority, DefaultTolerationSeconds).
    The ServiceAccount plugin's token volume is not added here: it needs a generated name."""
    default_pod_spec(spec)
    for list_key in ("containers", "initContainers"):
        for container in _mappings(spec.get(list_key)):
            _requests_from_limits(container)
            if spec.get("hostNetwork") is True:  # with the host's network a port is a host port
                for port in _mappings(container.get("ports")):
                    _fill(port, "hostPort", port.get("containerPort"))
    _fill_missing(spec, "enableServiceLinks", True)
    _fill(spec, "serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    class_name = spec.get("priorityClassName")
    priority = SYSTEM_PRIORITIES.get(class_name) if class_name else 0
    if priority is not None:
        _fill_missing(spec, "priority", priority)
        _fill_missing(spec, "preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if isinstance(tolerations, list):  # anything else is for validation to report
        added = [{"key": key, "operator": "Exists", "effect": "NoExecute",
                  "tolerationSeconds": _EVICTION_TOLERATION_SECONDS} for key in _EVICTION_TAINTS
                 if not _tolerates_eviction_taint(_mappings(tolerations), key)]
        if added:
            spec["tolerations"] = tolerations + added
