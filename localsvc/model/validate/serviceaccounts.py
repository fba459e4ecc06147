"""ServiceAccounts: the types of their fields (automountServiceAccountToken, secrets,
imagePullSecrets). Unknown keys are refused by the common field check (model/fields.py, from the
official schema), as for every other kind."""

from __future__ import annotations

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check

OBJECT_REFERENCE = ("apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion",
                    "uid")


def check_service_account(check: Check) -> None:
    obj = check.m.obj
    check.boolean(obj.get("automountServiceAccountToken"), "automountServiceAccountToken")
    for path, secret in check.mappings(obj.get("secrets"), "secrets"):
        for key in OBJECT_REFERENCE:
            check.string(secret.get(key), child_path(path, key))
    for path, pull in check.mappings(obj.get("imagePullSecrets"), "imagePullSecrets"):
        check.string(pull.get("name"), child_path(path, "name"))


__all__ = ["check_service_account"]
