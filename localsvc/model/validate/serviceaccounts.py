"""ServiceAccounts: the types of their fields (automountServiceAccountToken, secrets,
imagePullSecrets) and their keys.

The field schemas of model/data/fields.json do not have the kind (they are generated for the
kinds localsvc ran before it served ServiceAccounts), so the keys a ServiceAccount may hold are
listed here, from the v1 schema: ServiceAccount, ObjectReference (`secrets`) and
LocalObjectReference (`imagePullSecrets`). A typo (`automountServiceAccountTokens`) is refused
as kubectl's strict validation refuses it, instead of being silently dropped.
"""

from __future__ import annotations

from typing import Any

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check

TOP_LEVEL = ("apiVersion", "kind", "metadata", "automountServiceAccountToken", "secrets",
             "imagePullSecrets")
OBJECT_REFERENCE = ("apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion",
                    "uid")
LOCAL_OBJECT_REFERENCE = ("name",)


def check_service_account(check: Check) -> None:
    obj = check.m.obj
    _known_keys(check, obj, "", "ServiceAccount", TOP_LEVEL)
    check.boolean(obj.get("automountServiceAccountToken"), "automountServiceAccountToken")
    for path, secret in check.mappings(obj.get("secrets"), "secrets"):
        _known_keys(check, secret, path, "ObjectReference", OBJECT_REFERENCE)
        for key in OBJECT_REFERENCE:
            check.string(secret.get(key), child_path(path, key))
    for path, pull in check.mappings(obj.get("imagePullSecrets"), "imagePullSecrets"):
        _known_keys(check, pull, path, "LocalObjectReference", LOCAL_OBJECT_REFERENCE)
        check.string(pull.get("name"), child_path(path, "name"))


def _known_keys(check: Check, value: dict[str, Any], path: str, type_name: str,
                known: tuple[str, ...]) -> None:
    """Keys the type does not have, worded as model/fields.py words them for other kinds."""
    for key in value:
        if key not in known:
            check.add(child_path(path, str(key)), f'unknown field "{key}"; the fields of '
                      f"{type_name} are: {', '.join(sorted(known))}")


__all__ = ["check_service_account"]
