"""A pod's volumes as the kubelet makes them (pure: no Docker).

Which volume each one is (emptyDir, configMap, secret, the service-account token's projected
one, hostPath, persistentVolumeClaim), the files of the ones the kubelet writes (with their
modes: `defaultMode`, items' `mode`, 0644 by default), and what a container's volumeMount asks
for (read-only or not, its `subPath` after `subPathExpr` expansion). How the runtime mounts them
is in runtime/podvolumes.py; how file volumes are updated in place is in model/atomicwriter.py.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]  # (namespace, name) -> object or None
# (namespace, claim) -> the Docker volume its binding recorded; raises ConfigError saying why a
# pod using it waits (the claim missing, not bound yet, being deleted): the binder's answer.
ClaimVolume = Callable[[str, str], str]

DEFAULT_MODE = 0o644  # the API server's default for defaultMode (configMap, secret, projected)
FILE_VOLUMES = ("configMap", "secret", "projected")  # written by the kubelet's atomic writer
# Kept in the pod's own Docker volume (removed with the pod): the rest are the user's data.
POD_OWNED_VOLUMES = ("emptyDir", *FILE_VOLUMES)


class ConfigError(Exception):
    """A pod references configuration that does not exist (yet)."""


@dataclass(frozen=True)
class VolumePlan:
    name: str
    kind: str  # emptyDir | configMap | secret | projected | hostPath | persistentVolumeClaim
    files: Mapping[str, bytes] = field(default_factory=dict)  # relative path -> content
    default_mode: int = DEFAULT_MODE
    modes: Mapping[str, int] = field(default_factory=dict)  # paths with an item's own mode
    host_path: str = ""  # hostPath: the path on the Docker engine's host
    host_path_type: str = ""
    claim: str = ""  # persistentVolumeClaim: the claim's name (its namespace is the pod's)
    volume: str = ""  # persistentVolumeClaim: the Docker volume its binding recorded
    read_only: bool = False  # the source itself is read-only (persistentVolumeClaim.readOnly)

    def payload(self) -> dict[str, tuple[bytes, int]]:
        """Every file with its mode: what the atomic writer compares and writes."""
        return {path: (content, self.modes.get(path, self.default_mode))
                for path, content in self.files.items()}


def data_of(obj: Obj, kind: str) -> dict[str, bytes]:
    """Every key of a ConfigMap (data, binaryData) or Secret (data, stringData) as bytes."""
    out: dict[str, bytes] = {}
    if kind == "ConfigMap":
        for key, value in (obj.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = base64.b64decode(value)
    else:
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    return out


def source_data(kind: str, namespace: str, name: str, lookup: Lookup,
                optional: bool) -> dict[str, bytes] | None:
    """The data of ConfigMap/Secret `name`; None for a missing optional one."""
    obj = lookup(namespace, name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return data_of(obj, kind)


def no_claims(namespace: str, claim: str) -> str:
    """A ClaimVolume where no claim exists (the scheduler's words)."""
    raise ConfigError(f'persistentvolumeclaim "{claim}" not found')


def _claim_volume(name: str, source: Obj, namespace: str, claims: ClaimVolume) -> VolumePlan:
    claim = str(source.get("claimName") or "")
    # Only a bound claim is mounted, on the volume its binding made: the pod waits until then.
    volume = claims(namespace, claim)
    return VolumePlan(name=name, kind="persistentVolumeClaim", claim=claim, volume=volume,
                      read_only=bool(source.get("readOnly")))


def plan_volume(volume: Obj, namespace: str, configmaps: Lookup, secrets: Lookup,
                claims: ClaimVolume) -> VolumePlan:
    """One of the pod's volumes; ConfigError while what it names is missing."""
    name = volume["name"]
    if "hostPath" in volume:
        source = volume["hostPath"] or {}
        return VolumePlan(name=name, kind="hostPath", host_path=str(source.get("path") or ""),
                          host_path_type=str(source.get("type") or ""))
    if "persistentVolumeClaim" in volume:
        return _claim_volume(name, volume["persistentVolumeClaim"] or {}, namespace, claims)
    if "configMap" not in volume and "secret" not in volume:
        return VolumePlan(name=name, kind="emptyDir")  # the API server's default source
    if "configMap" in volume:
        spec, kind, lookup = volume["configMap"], "ConfigMap", configmaps
        ref_name = spec["name"]
    else:
        spec, kind, lookup = volume["secret"], "Secret", secrets
        ref_name = spec["secretName"]
    optional = bool(spec.get("optional"))
    data = source_data(kind, namespace, ref_name, lookup, optional) or {}
    default_mode = spec.get("defaultMode")
    default_mode = DEFAULT_MODE if default_mode is None else int(default_mode)
    items = spec.get("items")
    modes: dict[str, int] = {}
    if items:
        files = {}
        for item in items:
            if item["key"] not in data:
                if optional:
                    continue
                # The kubelet's words (pkg/volume/configmap, pkg/volume/secret).
                what = "config" if kind == "ConfigMap" else "secret"
                raise ConfigError(f"{kind.lower()} \"{ref_name}\" (volume {name}) references "
                                  f"non-existent {what} key: {item['key']}")
            files[item["path"]] = data[item["key"]]
            if item.get("mode") is not None:
                modes[item["path"]] = int(item["mode"])
    else:
        files = dict(data)
    return VolumePlan(name=name, kind="configMap" if kind == "ConfigMap" else "secret",
                      files=files, default_mode=default_mode, modes=modes)


def mount_read_only(mount: Obj, volume: VolumePlan | None) -> bool:
    """Read-only as the kubelet mounts it: asked by the mount or the claim's source, and always
    for configMap, secret and projected volumes (the kubelet's read-only API data volumes)."""
    if volume is None:
        return bool(mount.get("readOnly"))
    return bool(mount.get("readOnly")) or volume.read_only or volume.kind in FILE_VOLUMES


VAR_REF = re.compile(r"\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)|\$\$")


def mount_sub_path(mount: Obj, env: Mapping[str, str]) -> str:
    """The mount's subPath, `subPathExpr` expanded with the container's environment as the
    kubelet does (a variable unset or empty is an error); checked again after expansion."""
    expr = mount.get("subPathExpr")
    if expr:
        missing: set[str] = set()

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            value = env.get(match.group(1), "")
            if not value:
                missing.add(match.group(1))
            return value

        sub_path = VAR_REF.sub(sub, str(expr))
        if missing:
            raise ConfigError(f"volumeMount {mount.get('name')!r}: subPathExpr "
                              f"{expr!r}: missing value for {', '.join(sorted(missing))}")
    else:
        sub_path = str(mount.get("subPath") or "")
    if sub_path.startswith("/"):
        raise ConfigError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise ConfigError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")
    return sub_path


__all__ = ["ClaimVolume", "ConfigError", "DEFAULT_MODE", "FILE_VOLUMES",
           "POD_OWNED_VOLUMES", "VolumePlan", "data_of", "mount_read_only", "mount_sub_path",
           "no_claims", "plan_volume", "source_data"]
