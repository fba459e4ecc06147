"""The kubectl 1.32 Table columns of Jobs, CronJobs and DaemonSets (printJob, printCronJob,
printDaemonSet of pkg/printers/internalversion). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model.kubeapi.tablecells import AGE, NAME, NONE, Column, age, dig, human_duration
from localsvc.model.kubeapi.tablecells import containers_and_images, format_labels, name_of
from localsvc.model.kubeapi.tablecells import condition_true, since, timestamp
from localsvc.model.kubeapi.tablecells import CONTAINERS, IMAGES, as_int, format_label_selector

Row = tuple[list[Any], list[dict[str, str]]]
def job_row(job: Mapping[str, Any], now: float) -> Row:
    deleting = bool(dig(job, "metadata", "deletionTimestamp"))
    status = next((shown for shown, met in (
        ("Complete", condition_true(job, "Complete")), ("Failed", condition_true(job, "Failed")),
        ("Terminating", deleting), ("Suspended", condition_true(job, "Suspended")),
        ("FailureTarget", condition_true(job, "FailureTarget")),
        ("SuccessCriteriaMet", condition_true(job, "SuccessCriteriaMet"))) if met), "Running")
    succeeded = as_int(dig(job, "status", "succeeded"))
    completions, parallelism = dig(job, "spec", "completions"), dig(job, "spec", "parallelism")
    if completions is not None:
        done = f"{succeeded}/{as_int(completions)}"
    elif as_int(parallelism) > 1:
        done = f"{succeeded}/1 of {as_int(parallelism)}"
    else:
        done = f"{succeeded}/1"
    start = timestamp(dig(job, "status", "startTime"))
    end = timestamp(dig(job, "status", "completionTime"))
    took = "" if start is None else since(dig(job, "status", "startTime"), now) if end is None \
        else human_duration(end - start)
    names, images = containers_and_images(dig(job, "spec", "template", "spec", "containers"))
    return [name_of(job), status, done, took, age(job, now), names, images,
            format_label_selector(dig(job, "spec", "selector"))], []


def cronjob_row(cronjob: Mapping[str, Any], now: float) -> Row:
    spec = cronjob.get("spec") or {}
    suspend = spec.get("suspend")
    last = dig(cronjob, "status", "lastScheduleTime")
    template = dig(spec, "jobTemplate", "spec") or {}
    names, images = containers_and_images(dig(template, "template", "spec", "containers"))
    return [name_of(cronjob), str(spec.get("schedule", "")), spec.get("timeZone") or NONE,
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(dig(cronjob, "status", "active") or []),
            since(last, now) if last else NONE, age(cronjob, now), names, images,
            format_label_selector(template.get("selector"))], []


def daemonset_row(ds: Mapping[str, Any], now: float) -> Row:
    status = ds.get("status") or {}
    names, images = containers_and_images(dig(ds, "spec", "template", "spec", "containers"))
    return [name_of(ds), as_int(status.get("desiredNumberScheduled")),
            as_int(status.get("currentNumberScheduled")), as_int(status.get("numberReady")),
            as_int(status.get("updatedNumberScheduled")), as_int(status.get("numberAvailable")),
            format_labels(dig(ds, "spec", "template", "spec", "nodeSelector")), age(ds, now),
            names, images, format_label_selector(dig(ds, "spec", "selector"))], []


JOB_COLUMNS = (NAME, Column("Status", text="Status of the job."),
               Column("Completions", doc="JobStatus.succeeded"),
               Column("Duration", text="Time required to complete the job."), AGE,
               CONTAINERS, IMAGES, Column("Selector", priority=1, doc="JobSpec.selector"))
CRONJOB_COLUMNS = (NAME, Column("Schedule", doc="CronJobSpec.schedule"),
                   Column("Timezone", doc="CronJobSpec.timeZone"),
                   Column("Suspend", doc="CronJobSpec.suspend"),
                   Column("Active", doc="CronJobStatus.active"),
                   Column("Last Schedule", doc="CronJobStatus.lastScheduleTime"), AGE,
                   CONTAINERS, IMAGES, Column("Selector", priority=1, doc="JobSpec.selector"))
DAEMONSET_COLUMNS = (NAME,
                     Column("Desired", "integer", doc="DaemonSetStatus.desiredNumberScheduled"),
                     Column("Current", "integer", doc="DaemonSetStatus.currentNumberScheduled"),
                     Column("Ready", "integer", doc="DaemonSetStatus.numberReady"),
                     Column("Up-to-date", "integer", doc="DaemonSetStatus.updatedNumberScheduled"),
                     Column("Available", "integer", doc="DaemonSetStatus.numberAvailable"),
                     Column("Node Selector", doc="PodSpec.nodeSelector"), AGE,
                     CONTAINERS, IMAGES,
                     Column("Selector", priority=1, doc="DaemonSetSpec.selector"))

__all__ = ["CRONJOB_COLUMNS", "DAEMONSET_COLUMNS", "JOB_COLUMNS", "cronjob_row",
           "daemonset_row", "job_row"]
