"""The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job) and its selector
against the template's labels; the RollingUpdate surge/unavailable pair of Deployments and
DaemonSets. One wording for every kind, as the API server's validation has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import re
from typing import Any, NamedTuple

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show
from localsvc.model.validate.metadata import check_metadata
from localsvc.model.validate.pods import check_pod_spec
from localsvc.model.validate.selectors import check_selector, describe_labels, describe_selector

_PERCENT = re.compile(r"[0-9]+%")


class PodTemplate(NamedTuple):
    template: dict[str, Any] | None  # None when missing or not a mapping (already reported)
    labels: dict[str, str]
    pod_spec: dict[str, Any] | None


def check_pod_template(check: Check, spec: Mapping[str, Any], path: str,
                       restart_policies: Sequence[str],
                       claim_volumes: Sequence[str] = ()) -> PodTemplate:
    """`path`.template: its metadata and its pod spec (restart policies allowed, the claim
    templates' volume names a StatefulSet adds)."""
    at = f"{path}.template"
    template = check.mapping(spec.get("template"), at, required=True)
    if template is None:
        return PodTemplate(None, {}, None)
    labels = check_metadata(check, template.get("metadata"), f"{at}.metadata", None)
    pod_spec = check.mapping(template.get("spec"), f"{at}.spec", required=True)
    if pod_spec is not None:
        check_pod_spec(check, pod_spec, f"{at}.spec", restart_policies, claim_volumes)
    return PodTemplate(template, labels, pod_spec)


def check_selector_matches(check: Check, selector: Mapping[str, Any], template: PodTemplate,
                           path: str) -> None:
    """`path`.selector is valid and selects `path`.template's labels."""
    matches = check_selector(check, dict(selector), f"{path}.selector")
    if matches is not None and template.template is not None and not matches(template.labels):
        check.add(f"{path}.template.metadata.labels",
                  f"`selector` does not match template `labels` (selector: "
                  f"{describe_selector(dict(selector))}; labels: "
                  f"{describe_labels(template.labels)})")


def check_selected_template(check: Check, spec: Mapping[str, Any], example: str,
                            claim_volumes: Sequence[str] = ()) -> None:
    """spec.selector (required), spec.template (restartPolicy Always) and that the one selects
    the other: the block Deployments, StatefulSets and DaemonSets share."""
    owner = check.m.kind
    selector = check.mapping(spec.get("selector"), "spec.selector")
    if selector is None and spec.get("selector") is None:
        check.add("spec.selector", f"required: the labels of the pods this {owner} owns, "
                                   f"e.g. matchLabels: {example}")
    template = check_pod_template(check, spec, "spec", ("Always",), claim_volumes)
    if selector is not None:
        check_selector_matches(check, selector, template, "spec")


def check_rolling_update(check: Check, rolling: Mapping[str, Any], path: str) -> None:
    """maxSurge and maxUnavailable (integers or percentages), not both 0."""
    surge = check_int_or_percent(check, rolling.get("maxSurge"), child_path(path, "maxSurge"))
    unavailable = check_int_or_percent(check, rolling.get("maxUnavailable"),
                                       child_path(path, "maxUnavailable"))
    if surge == 0 and unavailable == 0:
        check.add(child_path(path, "maxUnavailable"), "may not be 0 when maxSurge is 0")


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
