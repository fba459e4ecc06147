"""StatefulSets: replicas, serviceName, selector against template labels, policies, update
strategy, volumeClaimTemplates, and the fields an update may not change (as the v1.32 API
server's ValidateStatefulSet / ValidateStatefulSetUpdate)."""

from __future__ import annotations

from typing import Any

from localsvc.errors import Problem
from localsvc.model import names
from localsvc.model.load import Manifest, child_path
from localsvc.model.validate.check import Check
from localsvc.model.validate.claims import check_claim_spec
from localsvc.model.validate.deployments import MAX_REPLICAS, check_int_or_percent
from localsvc.model.validate.podtemplate import check_selected_template

# The spec fields an update may change (ValidateStatefulSetUpdate); the others are fixed.
MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
           "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                    "'minReadySeconds' are forbidden")


def check_statefulset(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    replicas = check.integer(spec.get("replicas"), "spec.replicas", low=0)
    if replicas is not None and replicas > MAX_REPLICAS:
        check.add("spec.replicas", f"must be at most {MAX_REPLICAS} in localsvc (got "
                                   f"{replicas}): every replica is a pod on this one Docker engine")
    check.integer(spec.get("minReadySeconds"), "spec.minReadySeconds", low=0)
    check.integer(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", low=0)
    ordinals = check.mapping(spec.get("ordinals"), "spec.ordinals")
    if ordinals is not None:
        check.integer(ordinals.get("start"), "spec.ordinals.start", low=0)
    check.name(spec.get("serviceName"), "spec.serviceName", names.dns1123_label_error,
               required=False)
    check.one_of(spec.get("podManagementPolicy"), "spec.podManagementPolicy",
                 ("OrderedReady", "Parallel"))
    _check_update_strategy(check, spec.get("updateStrategy"), "spec.updateStrategy")
    retention = check.mapping(spec.get("persistentVolumeClaimRetentionPolicy"),
                              "spec.persistentVolumeClaimRetentionPolicy")
    for field in ("whenDeleted", "whenScaled"):
        if retention is not None:
            check.one_of(retention.get(field),
                         f"spec.persistentVolumeClaimRetentionPolicy.{field}",
                         ("Retain", "Delete"))
    claims = _check_claim_templates(check, spec.get("volumeClaimTemplates"))
    check_selected_template(check, spec, "{app: db}", claims)


def _check_update_strategy(check: Check, value: Any, path: str) -> None:
    strategy = check.mapping(value, path)
    if strategy is None:
        return
    kind = check.one_of(strategy.get("type"), child_path(path, "type"),
                        ("RollingUpdate", "OnDelete"))
    rolling_path = child_path(path, "rollingUpdate")
    rolling = check.mapping(strategy.get("rollingUpdate"), rolling_path)
    if rolling is None:
        return
    if kind == "OnDelete":
        check.add(rolling_path, "only allowed for updateStrategy 'RollingUpdate'")
        return
    check.integer(rolling.get("partition"), child_path(rolling_path, "partition"), low=0)
    unavailable_path = child_path(rolling_path, "maxUnavailable")
    if check_int_or_percent(check, rolling.get("maxUnavailable"), unavailable_path) == 0:
        check.add(unavailable_path, "must be greater than 0")


def _check_claim_templates(check: Check, value: Any) -> list[str]:
    """Check volumeClaimTemplates; the names of the volumes they give each pod."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for item_path, claim in check.mappings(value, "spec.volumeClaimTemplates"):
        meta = check.mapping(claim.get("metadata"), child_path(item_path, "metadata"),
                             required=True)
        if meta is None:
            continue
        name_path = child_path(item_path, "metadata.name")
        name = check.name(meta.get("name"), name_path, names.dns1123_label_error)
        if name is not None:
            check.unique(name, name_path, seen, "volumeClaimTemplate name")
            out.append(name)
        spec = check.mapping(claim.get("spec"), child_path(item_path, "spec"), required=True)
        if spec is not None:
            check_claim_spec(check, spec, child_path(item_path, "spec"))
    return out


def statefulset_update_problems(manifest: Manifest, previous: dict[str, Any] | None,
                                stored: dict[str, Any] | None) -> list[Problem]:
    """The API server's refusal of an update of a stored StatefulSet (`previous`) that changes
    a spec field other than the MUTABLE ones in `stored` (what it stores, defaults filled in);
    none for a creation or an unchanged object (`stored` None)."""
    if previous is None or stored is None or manifest.kind != "StatefulSet" or \
            previous.get("kind") != "StatefulSet":
        return []
    before, after = previous.get("spec") or {}, stored.get("spec") or {}  # defaults filled in
    if {k: v for k, v in after.items() if k not in MUTABLE} == \
            {k: v for k, v in before.items() if k not in MUTABLE}:
        return []
    return [Problem(manifest.file, manifest.line_of("spec"), "StatefulSet", manifest.name,
                    "spec", FORBIDDEN_UPDATE)]


__all__ = ["FORBIDDEN_UPDATE", "MUTABLE", "check_statefulset", "statefulset_update_problems"]
