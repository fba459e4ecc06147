"""Jobs and CronJobs (batch/v1): counts, restart policy, the generated selector, schedules and
time zones, as the API server's validation words them."""

from __future__ import annotations

from typing import Any

from localsvc.model.cronjobs import schedule_error, time_zone_error
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check
from localsvc.model.jobs import CONTROLLER_UID
from localsvc.model.validate.deployments import MAX_REPLICAS
from localsvc.model.validate.metadata import check_metadata
from localsvc.model.validate.podtemplate import check_pod_template, check_selector_matches

JOB_RESTART_POLICIES = ("OnFailure", "Never")


def check_job(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is not None:
        check_job_spec(check, spec, "spec")


def check_job_spec(check: Check, spec: dict[str, Any], path: str) -> None:
    def at(dotted: str) -> str:
        out = path
        for part in dotted.split("."):
            out = child_path(out, part)
        return out

    parallelism = check.integer(spec.get("parallelism"), at("parallelism"), low=0)
    check.integer(spec.get("completions"), at("completions"), low=0)
    if parallelism is not None and parallelism > MAX_REPLICAS:
        check.add(at("parallelism"), f"must be at most {MAX_REPLICAS} in localsvc (got "
                                     f"{parallelism}): every pod runs on this one Docker engine")
    check.integer(spec.get("backoffLimit"), at("backoffLimit"), low=0)
    check.integer(spec.get("activeDeadlineSeconds"), at("activeDeadlineSeconds"), low=1)
    check.integer(spec.get("ttlSecondsAfterFinished"), at("ttlSecondsAfterFinished"), low=0)
    check.boolean(spec.get("suspend"), at("suspend"))
    check.boolean(spec.get("manualSelector"), at("manualSelector"))
    mode = check.one_of(spec.get("completionMode"), at("completionMode"),
                        ("NonIndexed", "Indexed"))
    if mode == "Indexed" and spec.get("completions") is None:
        check.add(at("completions"), "required when completionMode is Indexed: the number of "
                                     "indexes (0 to completions-1)")
    for per_index in ("backoffLimitPerIndex", "maxFailedIndexes"):
        if spec.get(per_index) is not None:
            check.add(at(per_index), "not supported by localsvc: leave it out (backoffLimit "
                                     "counts the failures of every index together)")
    template = check_pod_template(check, spec, path, JOB_RESTART_POLICIES)
    if template.pod_spec is not None and template.pod_spec.get("restartPolicy") is None:
        check.add(at("template.spec.restartPolicy"),
                  'required: a Job\'s pods need restartPolicy "OnFailure" or "Never"')
    selector = check.mapping(spec.get("selector"), at("selector"))
    if selector is None:
        if spec.get("manualSelector") is True:
            check.add(at("selector"), "required when manualSelector is true (or leave both out: "
                                      "the selector is generated)")
        return
    generated = set(selector) == {"matchLabels"} and set(
        selector.get("matchLabels") or {}) == {CONTROLLER_UID}
    if spec.get("manualSelector") is not True and generated:
        return  # the server's own, read back and written again (kubectl apply, edit)
    if spec.get("manualSelector") is not True:
        check.add(at("selector"), "`selector` not auto-generated: leave the selector out (it is "
                                  "generated from the Job's uid), or set manualSelector: true")
        return
    check_selector_matches(check, selector, template, path)


def check_cronjob(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is None:
        return
    schedule = check.string(spec.get("schedule"), "spec.schedule", required=True)
    if schedule is not None and (error := schedule_error(schedule)):
        check.add("spec.schedule", error)
    zone = check.string(spec.get("timeZone"), "spec.timeZone")
    if zone is not None and (error := time_zone_error(zone)):
        check.add("spec.timeZone", error)
    check.one_of(spec.get("concurrencyPolicy"), "spec.concurrencyPolicy",
                 ("Allow", "Forbid", "Replace"))
    check.integer(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds", low=0)
    check.integer(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit",
                  low=0)
    check.integer(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit", low=0)
    check.boolean(spec.get("suspend"), "spec.suspend")
    name = (check.m.obj.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > 52:
        check.add("metadata.name", f"must be no more than 52 characters (got {len(name)}): the "
                                   "names of its Jobs add 11 characters")
    job_template = check.mapping(spec.get("jobTemplate"), "spec.jobTemplate", required=True)
    if job_template is None:
        return
    check_metadata(check, job_template.get("metadata"), "spec.jobTemplate.metadata", None)
    job_spec = check.mapping(job_template.get("spec"), "spec.jobTemplate.spec", required=True)
    if job_spec is not None:
        check_job_spec(check, job_spec, "spec.jobTemplate.spec")


__all__ = ["check_cronjob", "check_job", "check_job_spec"]
