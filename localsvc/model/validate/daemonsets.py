"""DaemonSets (apps/v1): selector against template labels, restart policy, update strategy."""

from __future__ import annotations

from localsvc.model.load import child_path
from localsvc.model.validate.check import Check
from localsvc.model.validate.deployments import check_int_or_percent
from localsvc.model.validate.metadata import check_metadata
from localsvc.model.validate.pods import check_pod_spec
from localsvc.model.validate.selectors import check_selector, describe_labels, describe_selector


def check_daemonset(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    check.integer(spec.get("minReadySeconds"), "spec.minReadySeconds", low=0)
    check.integer(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", low=0)
    selector = check.mapping(spec.get("selector"), "spec.selector")
    if selector is None and spec.get("selector") is None:
        check.add("spec.selector", "required: the labels of the pods this DaemonSet owns, "
                                   "e.g. matchLabels: {app: agent}")
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
            check.add("spec.template.metadata.labels",
                      f"`selector` does not match template `labels` (selector: "
                      f"{describe_selector(selector)}; labels: {describe_labels(labels)})")
    strategy = check.mapping(spec.get("updateStrategy"), "spec.updateStrategy")
    if strategy is None:
        return
    kind = check.one_of(strategy.get("type"), "spec.updateStrategy.type",
                        ("RollingUpdate", "OnDelete"))
    path = "spec.updateStrategy.rollingUpdate"
    rolling = check.mapping(strategy.get("rollingUpdate"), path)
    if rolling is None:
        return
    if kind == "OnDelete":
        check.add(path, "may not be specified when strategy `type` is 'OnDelete'")
        return
    surge = check_int_or_percent(check, rolling.get("maxSurge"), child_path(path, "maxSurge"))
    unavailable = check_int_or_percent(check, rolling.get("maxUnavailable"),
                                       child_path(path, "maxUnavailable"))
    if surge == 0 and unavailable == 0:
        check.add(child_path(path, "maxUnavailable"), "may not be 0 when maxSurge is 0")
