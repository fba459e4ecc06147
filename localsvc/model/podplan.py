"""What Docker must run for one pod: containers, env, mounts, limits (pure: no Docker).

The runtime turns a PodPlan into containers; this module only decides what they are, from the
pod spec and the ConfigMaps/Secrets it references. A reference that cannot be resolved yet (a
missing ConfigMap, say) is a ConfigError, reported on the pod the way the kubelet reports
CreateContainerConfigError, and retried later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.model.incluster import MOUNT_PATH, ApiAccess, access_files, volume_name
from localsvc.model.podvolumes import ConfigError as ConfigError  # (re-exported)
from localsvc.model.podvolumes import ClaimVolume, no_claims
from localsvc.model.podvolumes import Lookup as Lookup
from localsvc.model.podvolumes import VolumePlan as VolumePlan
from localsvc.model.podvolumes import VAR_REF
from localsvc.model.podvolumes import (
    mount_read_only,
    mount_sub_path,
    plan_volume,
    source_data,
)
from localsvc.model.quantity import cpu_to_nano_cpus, memory_to_bytes

Obj = dict[str, Any]

INFRA_MOUNT_ROOT = "/localsvc/volumes"
DOCKER_RESOLVER = "127.0.0.11"


@dataclass(frozen=True)
class MountPlan:
    volume: str
    path: str
    read_only: bool
    sub_path: str = ""  # relative to the volume, subPathExpr expanded


@dataclass(frozen=True)
class ContainerPlan:
    name: str
    image: str
    pull_policy: str
    command: list[str] | None  # Docker entrypoint (Kubernetes `command`)
    args: list[str] | None  # Docker cmd (Kubernetes `args`)
    working_dir: str | None
    env: dict[str, str]
    mounts: list[MountPlan]
    nano_cpus: int | None
    mem_limit: int | None
    ports: list[dict[str, Any]]
    init: bool
    tty: bool
    stdin: bool
    # Why the container cannot be made though the pod can (a subPathExpr naming an unset
    # variable): the kubelet reports it on that container at its start, not on the pod.
    config_error: str = ""


@dataclass(frozen=True)
class PodPlan:
    namespace: str
    name: str
    hostname: str
    domain: str | None
    restart_policy: str
    grace_seconds: int
    volumes: list[VolumePlan]
    init_containers: list[ContainerPlan]
    containers: list[ContainerPlan]


def default_pull_policy(image: str) -> str:
    """Kubernetes default: Always for `:latest` or no tag, IfNotPresent otherwise."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names replaced, unknown left as is, `$$` -> `$`."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return VAR_REF.sub(sub, text)


def _field_value(path: str, pod: Obj, pod_ip: str, node_ip: str) -> str:
    meta = pod.get("metadata") or {}
    for group in ("annotations", "labels"):  # metadata.annotations['KEY'] (an Indexed Job's)
        if path.startswith(f"metadata.{group}['") and path.endswith("']"):
            return str((meta.get(group) or {}).get(path[len(group) + 11:-2], ""))
    values = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""),
        "status.podIP": pod_ip,
        "status.hostIP": node_ip,
        "spec.nodeName": "localsvc",
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
    }
    return str(values.get(path, ""))


POD_IP_FIELDS = frozenset({"status.podIP", "status.podIPs"})


def uses_pod_ip(container: Obj) -> bool:
    """Whether `container`'s environment holds the pod's IP (a fieldRef to status.podIP(s)):
    its plan is only final once the sandbox has that IP."""
    return any(((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
               in POD_IP_FIELDS for e in container.get("env") or [])


def container_env(
    container: Obj,
    pod: Obj,
    configmaps: Lookup,
    secrets: Lookup,
    pod_ip: str,
    node_ip: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one container, in Kubernetes' order: extra (service links), envFrom, env."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = dict(extra or {})
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = source_data("ConfigMap", namespace, ref["name"], configmaps, bool(ref.get("optional")))
        else:
            ref = source["secretRef"]
            data = source_data("Secret", namespace, ref["name"], secrets, bool(ref.get("optional")))
        for key, value in (data or {}).items():
            env[prefix + key] = value.decode(errors="replace")
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            env[name] = _field_value(source["fieldRef"]["fieldPath"], pod, pod_ip, node_ip)
            continue
        kind, ref = (
            ("ConfigMap", source["configMapKeyRef"])
            if "configMapKeyRef" in source
            else ("Secret", source["secretKeyRef"])
        )
        lookup = configmaps if kind == "ConfigMap" else secrets
        optional = bool(ref.get("optional"))
        data = source_data(kind, namespace, ref["name"], lookup, optional)
        if data is None:
            continue
        if ref["key"] not in data:
            if optional:
                continue
            raise ConfigError(f'couldn\'t find key {ref["key"]} in {kind} {namespace}/{ref["name"]}')
        env[name] = data[ref["key"]].decode(errors="replace")
    return env


def _container_plan(
    container: Obj,
    pod: Obj,
    init: bool,
    env: dict[str, str],
    volumes: Mapping[str, VolumePlan],
) -> ContainerPlan:
    limits = (container.get("resources") or {}).get("limits") or {}
    mounts = []
    config_error = ""
    for m in container.get("volumeMounts") or []:
        try:
            sub_path = mount_sub_path(m, env)
        except ConfigError as err:
            sub_path, config_error = "", config_error or str(err)
        mounts.append(MountPlan(volume=m["name"], path=m["mountPath"],
                                read_only=mount_read_only(m, volumes.get(m["name"])),
                                sub_path=sub_path))
    command = container.get("command")
    args = container.get("args")
    return ContainerPlan(
        name=container["name"],
        image=container["image"],
        pull_policy=container.get("imagePullPolicy") or default_pull_policy(container["image"]),
        command=[expand(str(c), env) for c in command] if command is not None else None,
        args=[expand(str(a), env) for a in args] if args is not None else None,
        working_dir=container.get("workingDir"),
        env=env,
        mounts=mounts,
        nano_cpus=cpu_to_nano_cpus(limits["cpu"]) if "cpu" in limits else None,
        mem_limit=memory_to_bytes(limits["memory"]) if "memory" in limits else None,
        ports=list(container.get("ports") or []),
        init=init,
        tty=bool(container.get("tty")),
        stdin=bool(container.get("stdin")),
        config_error=config_error,
    )


def plan_pod(
    pod: Obj,
    configmaps: Lookup,
    secrets: Lookup,
    pod_ip: str = "",
    node_ip: str = "",
    service_env: Mapping[str, str] | None = None,
    api_access: ApiAccess | None = None,
    claims: ClaimVolume = no_claims,
) -> PodPlan:
    """Resolve a pod object into what to run. Raises ConfigError for missing references.

    `pod_ip` is known only once the infra container runs; plans made before that (to create the
    volumes) pass "" and are remade for the containers. `api_access`: the API from inside the
    pod (model/incluster.py): the master Service's variables in every container whatever
    enableServiceLinks says, and the service-account files unless automounting is off.
    `claims`: each bound claim's Docker volume (a pod naming one not bound waits for it).
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = meta.get("namespace", "default")
    volumes = [plan_volume(v, namespace, configmaps, secrets, claims)
               for v in spec.get("volumes") or []]
    links = dict(api_access.env) if api_access is not None else {}
    if spec.get("enableServiceLinks", True):
        links.update(service_env or {})
    token_volume = _token_volume(pod, api_access, {v.name for v in volumes})
    if token_volume is not None:
        volumes.append(token_volume)
    by_name = {v.name: v for v in volumes}

    def plans(key: str, init: bool) -> list[ContainerPlan]:
        out = []
        for c in spec.get(key) or []:
            env = container_env(c, pod, configmaps, secrets, pod_ip, node_ip, links)
            plan = _container_plan(c, pod, init, env, by_name)
            if token_volume is not None and all(m.path.rstrip("/") != MOUNT_PATH
                                                for m in plan.mounts):
                # As the ServiceAccount admission plugin: unless the container mounts
                # something there itself.
                plan.mounts.append(MountPlan(token_volume.name, MOUNT_PATH, True))
            out.append(plan)
        return out

    subdomain = spec.get("subdomain")
    return PodPlan(
        namespace=namespace,
        name=meta["name"],
        hostname=spec.get("hostname") or meta["name"][:63].rstrip("-."),
        domain=f"{subdomain}.{namespace}.svc.cluster.local" if subdomain else None,
        restart_policy=spec.get("restartPolicy", "Always"),
        grace_seconds=int(spec.get("terminationGracePeriodSeconds", 30)),
        volumes=volumes,
        init_containers=plans("initContainers", True),
        containers=plans("containers", False),
    )


def _token_volume(pod: Obj, access: ApiAccess | None, taken: set[str]) -> VolumePlan | None:
    """The kube-api-access-* volume (token, ca.crt, namespace), or None without one."""
    if access is None:
        return None
    files = access_files(pod, access)
    if files is None:
        return None
    name = volume_name(pod)
    while name in taken:  # the pod names a volume so itself: take another suffix
        name += "x"
    return VolumePlan(name=name, kind="projected", files=files)


def resolv_conf(pod: Obj, dns_ip: str, cluster_domain: str) -> str | None:
    """The pod's /etc/resolv.conf per dnsPolicy, as the kubelet writes it; None = Docker's own
    (dnsPolicy Default: the node's resolution)."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    config = spec.get("dnsConfig") or {}
    if policy == "Default" and not config:
        return None
    nameservers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        nameservers = [dns_ip]
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        options = {"ndots": "5"}
    elif policy == "Default":
        # The node's resolution: Docker's embedded resolver, which forwards to the host's.
        nameservers = [DOCKER_RESOLVER]
    nameservers += [str(n) for n in config.get("nameservers") or [] if n not in nameservers]
    searches += [str(s) for s in config.get("searches") or [] if s not in searches]
    for option in config.get("options") or []:
        options[str(option["name"])] = None if option.get("value") is None else str(option["value"])
    lines = [f"nameserver {n}" for n in nameservers[:3]]
    if searches:
        lines.append("search " + " ".join(searches[:32]))
    if options:
        lines.append("options " + " ".join(k if v is None else f"{k}:{v}" for k, v in options.items()))
    return "\n".join(lines) + "\n"


def backoff_seconds(restarts: int, base: float = 10.0, cap: float = 300.0) -> float:
    """The kubelet's crash back-off: 10 s, 20 s, 40 s ... capped at 5 minutes."""
    if restarts <= 0:
        return 0.0
    return float(min(cap, base * 2.0 ** min(restarts - 1, 32)))
