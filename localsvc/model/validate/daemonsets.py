"""DaemonSets (apps/v1): selector against template labels, restart policy, update strategy."""

from __future__ import annotations

from localsvc.model.validate.check import Check
from localsvc.model.validate.podtemplate import check_rolling_update, check_selected_template


def check_daemonset(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    check.integer(spec.get("minReadySeconds"), "spec.minReadySeconds", low=0)
    check.integer(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", low=0)
    check_selected_template(check, spec, "{app: agent}")
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
    check_rolling_update(check, rolling, path)
