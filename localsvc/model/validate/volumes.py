"""Pod volumes (configMap, secret, emptyDir, hostPath, persistentVolumeClaim) and the
containers' volumeMounts (subPath, subPathExpr), as the API server validates them."""

from __future__ import annotations

import posixpath
from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.hostpath import HOST_PATH_TYPES
from localsvc.model.validate.check import Check, check_quantity, show

SUPPORTED_VOLUMES = ("configMap", "secret", "emptyDir", "hostPath", "persistentVolumeClaim")


_UNSUPPORTED_VOLUMES = (
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


def check_volumes(check: Check, value: Any, path: str) -> set[str]:
    """Check the pod's volumes; the names of all of them (for volumeMounts)."""
    seen: dict[str, str] = {}
    for item_path, volume in check.mappings(value, path):
        at = partial(child_path, item_path)
        name = check.name(volume.get("name"), at("name"), names.dns1123_label_error)
        if name is not None:
            check.unique(name, at("name"), seen, "volume name")
        elif isinstance(volume.get("name"), str):
            seen.setdefault(volume["name"], at("name"))
        check_volume_source(check, volume, item_path)
    return set(seen)


def check_volume_source(check: Check, volume: dict[str, Any], path: str) -> None:
    # Only real volume types: an unknown key is reported as such (with a suggestion).
    unsupported = [k for k in volume if k in _UNSUPPORTED_VOLUMES]
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
    if kind == "hostPath":
        check_host_path(check, source or {}, source_path)
        return
    if kind == "persistentVolumeClaim":
        check.string((source or {}).get("claimName"), child_path(source_path, "claimName"),
                     required=True)
        check.boolean((source or {}).get("readOnly"), child_path(source_path, "readOnly"))
        return
    if kind == "emptyDir":
        source = source or {}
        check.one_of(source.get("medium"), child_path(source_path, "medium"), ("", "Memory"))
        check_quantity(check, source.get("sizeLimit"), child_path(source_path, "sizeLimit"))
        return
    name_key = "name" if kind == "configMap" else "secretName"
    check.string((source or {}).get(name_key), child_path(source_path, name_key), required=True)
    if source is not None:
        check_key_items(check, source.get("items"), child_path(source_path, "items"))
        check.integer(source.get("defaultMode"), child_path(source_path, "defaultMode"), 0, 0o777)
        check.boolean(source.get("optional"), child_path(source_path, "optional"))


def check_host_path(check: Check, source: dict[str, Any], path: str) -> None:
    at = partial(child_path, path)
    host_path = check.string(source.get("path"), at("path"), required=True)
    if host_path is not None:
        if ".." in host_path.split("/"):
            check.add(at("path"), f"must not contain '..' (got {show(host_path)})")
        elif not host_path.startswith("/"):
            # The API server accepts it; Docker would take a relative name for a named volume.
            check.add(at("path"), f"must be an absolute path on the Docker engine's host "
                                  f"(got {show(host_path)})")
    path_type = check.one_of(source.get("type"), at("type"), HOST_PATH_TYPES)
    if host_path and ":" in host_path and path_type in ("", "DirectoryOrCreate", None):
        # These are bound with Docker's "src:dst:mode" syntax (the one that creates a missing
        # directory), which cannot carry a colon.
        check.add(at("path"), f"may not contain ':' with type {show(path_type or '')} in "
                              f"localsvc (got {show(host_path)}); use type Directory")


def check_relative_path(check: Check, value: str, path: str) -> None:
    """The API server's validateLocalDescendingPath."""
    if value.startswith("/"):
        check.add(path, f"must be a relative path (got {show(value)})")
    elif ".." in value.split("/"):
        check.add(path, f"must not contain '..' (got {show(value)})")


def check_key_items(check: Check, value: Any, path: str) -> None:
    for item_path, item in check.mappings(value, path):
        check.name(item.get("key"), child_path(item_path, "key"), names.config_key_error)
        file_path = check.string(item.get("path"), child_path(item_path, "path"), required=True)
        if file_path is None:
            continue
        if file_path.startswith("/"):
            check.add(
                child_path(item_path, "path"), f"must be a relative path (got {show(file_path)})"
            )
        elif ".." in posixpath.normpath(file_path).split("/") or ".." in file_path.split("/"):
            check.add(
                child_path(item_path, "path"), f"must not contain '..' (got {show(file_path)})"
            )
        check.integer(item.get("mode"), child_path(item_path, "mode"), 0, 0o777)


def check_mounts(check: Check, value: Any, path: str, volumes: set[str]) -> None:
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
                check.add(at("mountPath"), f"must be an absolute path (got {show(mount_path)})")
            elif mount_path in seen:
                check.add(at("mountPath"), f"must be unique (also at {seen[mount_path]})")
            seen.setdefault(mount_path, at("mountPath"))
        sub_path = check.string(mount.get("subPath"), at("subPath"))
        if sub_path:
            check_relative_path(check, sub_path, at("subPath"))
        expr = check.string(mount.get("subPathExpr"), at("subPathExpr"))
        if expr:
            if sub_path:
                check.add(at("subPathExpr"), "subPathExpr and subPath are mutually exclusive")
            check_relative_path(check, expr, at("subPathExpr"))
        check.boolean(mount.get("readOnly"), at("readOnly"))
