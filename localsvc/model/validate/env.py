"""Container environment: `env` (values and `valueFrom` sources) and `envFrom`."""

from __future__ import annotations

from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show

FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "status.podIP",
    "spec.nodeName",
    "status.hostIP",
    "spec.serviceAccountName",
)


def check_env(check: Check, value: Any, path: str) -> None:
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
        check_env_source(check, source, at("valueFrom"))


def check_env_source(check: Check, source: dict[str, Any], path: str) -> None:
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
                f"{show(field_path)} is not supported by localsvc; supported: "
                f"{', '.join(FIELD_PATHS)}",
            )
        return
    check.string(ref.get("name"), child_path(ref_path, "name"), required=True)
    check.name(ref.get("key"), child_path(ref_path, "key"), names.config_key_error)
    check.boolean(ref.get("optional"), child_path(ref_path, "optional"))


def check_env_from(check: Check, value: Any, path: str) -> None:
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
