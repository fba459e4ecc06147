"""Deployments: replicas, selector against template labels, update strategy."""

from __future__ import annotations

import re
from typing import Any

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show
from localsvc.model.validate.metadata import check_metadata
from localsvc.model.validate.pods import check_pod_spec
from localsvc.model.validate.selectors import check_selector, describe_labels, describe_selector

_PERCENT = re.compile(r"[0-9]+%")
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
    selector = check.mapping(spec.get("selector"), "spec.selector")
    if selector is None and spec.get("selector") is None:
        check.add(
            "spec.selector",
            "required: the labels of the pods this Deployment owns, e.g. matchLabels: {app: web}",
        )
    template = check.mapping(spec.get("template"), "spec.template", required=True)
    labels: dict[str, str] = {}
    if template is not None:
        labels = check_metadata(check, template.get("metadata"), "spec.template.metadata", None)
        pod_spec = check.mapping(template.get("spec"), "spec.template.spec", required=True)
        if pod_spec is not None:
            check_pod_spec(check, pod_spec, "spec.template.spec", ("Always",))
    if selector is not None:
        matches = check_selector(check, selector, "spec.selector")
        if matches is not None and template is not None and not matches(labels):
            check.add(
                "spec.template.metadata.labels",
                f"`selector` does not match template `labels` (selector: "
                f"{describe_selector(selector)}; labels: {describe_labels(labels)})",
            )
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
    surge = check_int_or_percent(
        check, update.get("maxSurge"), child_path(update_path, "maxSurge")
    )
    unavailable = check_int_or_percent(
        check, update.get("maxUnavailable"), child_path(update_path, "maxUnavailable")
    )
    if surge == 0 and unavailable == 0:
        check.add(child_path(update_path, "maxUnavailable"), "may not be 0 when maxSurge is 0")


def check_int_or_percent(check: Check, value: Any, path: str) -> int | None:
    """An integer >= 0 or a percentage like "25%"; its number (None when unset or bad)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            check.add(
                path, f'must be an integer or a percentage such as "25%" (got {show(value)})'
            )
            return None
        percent = int(value[:-1])
        if path.endswith("maxUnavailable") and percent > 100:
            check.add(path, f"must not be greater than 100% (got {show(value)})")
        return percent
    return check.integer(value, path, low=0)
