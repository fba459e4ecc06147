"""Deployments: replicas, selector against template labels, update strategy."""

from __future__ import annotations

from typing import Any

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check
from localsvc.model.validate.podtemplate import check_int_or_percent, check_rolling_update
from localsvc.model.validate.podtemplate import check_selected_template

__all__ = ["MAX_REPLICAS", "check_deployment", "check_int_or_percent", "check_strategy"]
# Each replica is a pod of one or more containers on this one engine; past this, a typo (1000
# for 10) would exhaust the machine before anything useful ran. Documented in the README.
MAX_REPLICAS = 100


def check_deployment(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    replicas = check.integer(spec.get("replicas"), "spec.replicas", low=0)
    if replicas is not None and replicas > MAX_REPLICAS:
        check.add(
            "spec.replicas",
            f"must be at most {MAX_REPLICAS} in localsvc (got {replicas}): every replica is a pod "
            "on this one Docker engine",
        )
    check.integer(spec.get("minReadySeconds"), "spec.minReadySeconds", low=0)
    check.integer(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", low=0)
    check.boolean(spec.get("paused"), "spec.paused")
    check_selected_template(check, spec, "{app: web}")
    check_strategy(check, spec.get("strategy"), "spec.strategy")


def check_strategy(check: Check, value: Any, path: str) -> None:
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
    check_rolling_update(check, update, update_path)
