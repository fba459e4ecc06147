"""What the CronJob controller does next, as a pure function of the clock and its Jobs.

Mirrors pkg/controller/cronjob (Kubernetes 1.32, the v2 controller): the schedule (5 fields or a
macro such as @hourly, parsed by croniter, a maintained cron library) in `timeZone` (UTC when
unset, the controller manager's zone in a container); the most recent missed start time is run
once (at most one catch-up), none older than `startingDeadlineSeconds`; more than 100 missed
start times are reported (TooManyMissedTimes); `concurrencyPolicy` Allow, Forbid (skip while a
Job runs) or Replace (delete the running Jobs); `suspend`; finished Jobs beyond the history
limits are deleted, oldest first. Jobs are named `<cronjob>-<scheduled time in minutes since
the epoch>` and annotated with their scheduled time.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MANY_MISSED = 100  # more missed start times than this are reported, not listed
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@hourly": "0 * * * *"}


def _croniter() -> Any:
    """croniter, imported when a schedule is read: it costs ~35 ms, which every CLI command
    importing the validation would pay."""
    from croniter import croniter  # type: ignore[import-untyped,unused-ignore]

    return croniter


def _expression(schedule: str) -> str:
    text = schedule.strip()
    return MACROS.get(text.lower(), text)


def schedule_error(schedule: str) -> str | None:
    """Why the API server refuses `schedule` (None: a valid one)."""
    text = schedule.strip()
    if "TZ=" in text:  # TZ= and CRON_TZ= prefixes
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text.lower().startswith("@every"):
        return ("@every schedules are not supported by localsvc: write the interval as a "
                "5-field schedule, e.g. */5 * * * * for every 5 minutes")
    expression = _expression(text)
    if text.startswith("@") and expression == text:
        return (f"unrecognized descriptor: {text} (use @yearly, @annually, @monthly, @weekly, "
                "@daily, @midnight or @hourly, or 5 fields)")
    fields = expression.split()
    if len(fields) != 5:
        return (f"expected exactly 5 fields, found {len(fields)}: {text} (minute hour "
                "day-of-month month day-of-week, e.g. */5 * * * *)")
    if not _croniter().is_valid(expression):
        return f"invalid schedule: {text} (minute hour day-of-month month day-of-week)"
    return None


def time_zone_error(name: str) -> str | None:
    """Why `name` is not a time zone the controller can use (None: it is one)."""
    if not name or name.startswith(("/", ".")) or ".." in name or name.lower() == "local":
        return f'unknown time zone "{name}": use an IANA name such as "Europe/Berlin"'
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f'unknown time zone "{name}": use an IANA name such as "Europe/Berlin"'
    return None


def zone_of(name: str | None) -> Any:
    return ZoneInfo(name) if name else timezone.utc


def next_after(schedule: str, zone: str | None, moment: float) -> float:
    """The first start time of `schedule` after epoch seconds `moment` (in `zone`)."""
    start = datetime.fromtimestamp(moment, zone_of(zone))
    return float(_croniter()(_expression(schedule), start).get_next(float))


@dataclass(frozen=True)
class MostRecent:
    time: float | None  # the start time to run now (None: none is due)
    missed: int  # how many start times were missed (roughly, as the controller counts)
    following: float  # the first start time after now: when the controller wakes next


def most_recent_schedule(schedule: str, zone: str | None, earliest: float, now: float,
                         starting_deadline: int | None) -> MostRecent:
    """mostRecentScheduleTime: the latest start time in (earliest, now], starting no earlier
    than `starting_deadline` seconds ago; how many were missed; and the first start time
    after now (from the times computed anyway: each costs a croniter)."""
    if starting_deadline is not None:
        earliest = max(earliest, now - starting_deadline)
    if earliest > now:  # a last schedule in the future (the clock went back)
        return MostRecent(None, 0, next_after(schedule, zone, now))
    t1 = next_after(schedule, zone, earliest)
    if now < t1:  # earliest <= now < t1: t1 is also the first after now
        return MostRecent(None, 0, t1)
    t2 = next_after(schedule, zone, t1)
    if now < t2:
        return MostRecent(t1, 1, t2)
    between = round(t2 - t1)
    missed = int((now - t1) // between) + 1
    moment = t1 + (missed - 2) * between
    latest = None
    candidate = next_after(schedule, zone, moment)
    while candidate <= now:
        latest = candidate
        candidate = next_after(schedule, zone, candidate)
    return MostRecent(latest, missed, candidate)


def job_name(cronjob: str, scheduled: float) -> str:
    """`<cronjob>-<scheduled time in minutes since the epoch>` (getJobName)."""
    return f"{cronjob}-{int(scheduled // 60)}"


def scheduled_timestamp(scheduled: float, zone: str | None) -> str:
    """The scheduled time as Go's RFC 3339 in the CronJob's zone ("Z" for a zero offset)."""
    moment = datetime.fromtimestamp(scheduled, zone_of(zone)).replace(microsecond=0)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class ChildJob:
    """One of the CronJob's Jobs, as the controller reads it."""

    name: str
    finished: str | None = None  # "Complete" | "Failed" | None (still running)
    completion_time: float | None = None
    start_time: float | None = None
    created: float = 0.0


@dataclass
class CronMemory:
    """Its status fields (persisted with the node's state)."""

    uid: str = ""
    last_schedule: float | None = None
    last_successful: float | None = None
    active: list[str] = field(default_factory=list)  # names of the running Jobs it started

    def to_json(self) -> Obj:
        return {"uid": self.uid, "lastScheduleTime": self.last_schedule,
                "lastSuccessfulTime": self.last_successful, "active": self.active}

    @classmethod
    def from_json(cls, data: Any) -> CronMemory:
        if not isinstance(data, dict):
            return cls()
        return cls(str(data.get("uid") or ""), data.get("lastScheduleTime"),
                   data.get("lastSuccessfulTime"), list(data.get("active") or []))


@dataclass(frozen=True)
class CronEvent:
    type: str
    reason: str
    message: str


@dataclass
class CronStep:
    memory: CronMemory
    create: float | None = None  # the scheduled time of a Job to create now
    delete: list[str] = field(default_factory=list)  # Jobs to delete (Replace, history)
    events: list[CronEvent] = field(default_factory=list)
    wake_at: float | None = None  # the next start time (None: suspended)


@dataclass(frozen=True)
class CronSpec:
    schedule: str
    time_zone: str | None = None
    concurrency: str = "Allow"
    suspend: bool = False
    starting_deadline: int | None = None
    successful_limit: int | None = 3
    failed_limit: int | None = 1

    @classmethod
    def of(cls, spec: Obj) -> CronSpec:
        def optional(name: str) -> int | None:
            value = spec.get(name)
            return None if value is None else int(value)

        return cls(str(spec.get("schedule") or ""), spec.get("timeZone") or None,
                   str(spec.get("concurrencyPolicy") or "Allow"), bool(spec.get("suspend")),
                   optional("startingDeadlineSeconds"), optional("successfulJobsHistoryLimit"),
                   optional("failedJobsHistoryLimit"))


def _rfc1123(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


def plan_cronjob(spec: CronSpec, name: str, memory: CronMemory, children: Sequence[ChildJob],
                 created: float, now: float) -> CronStep:
    """The next step of CronJob `name` created at `created`, given its Jobs, at `now`."""
    memory = copy.deepcopy(memory)
    step = CronStep(memory)
    by_name = {c.name: c for c in children}
    _track_active(step, by_name)
    _clean_history(spec, step, children)
    if spec.suspend:
        return step
    earliest = memory.last_schedule if memory.last_schedule is not None else created
    recent = most_recent_schedule(spec.schedule, spec.time_zone, earliest, now,
                                  spec.starting_deadline)
    step.wake_at = recent.following
    if recent.missed > MANY_MISSED:
        step.events.append(CronEvent(
            "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
            ".spec.startingDeadlineSeconds or check clock skew"))
    scheduled = recent.time
    if scheduled is None:
        return step
    if spec.starting_deadline is not None and scheduled + spec.starting_deadline < now:
        step.events.append(CronEvent("Warning", "MissSchedule", "Missed scheduled time to "
                                     f"start a job: {_rfc1123(scheduled)}"))
        return step
    if job_name(name, scheduled) in memory.active or job_name(name, scheduled) in by_name:
        return step  # already started
    running = [n for n in memory.active if n not in step.delete]
    if spec.concurrency == "Forbid" and running:
        step.events.append(CronEvent("Normal", "JobAlreadyActive", "Not starting job because "
                                     "prior execution is running and concurrency policy is "
                                     "Forbid"))
        return step
    if spec.concurrency == "Replace":
        for job in running:
            step.delete.append(job)
            step.events.append(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {job}"))
        memory.active = []
    step.create = scheduled
    memory.last_schedule = scheduled
    memory.active.append(job_name(name, scheduled))
    return step


def _track_active(step: CronStep, by_name: dict[str, ChildJob]) -> None:
    """Finished Jobs leave the active list, Jobs gone too; the latest completion of any of its
    Jobs is the last success. A running Job it did not start (kubectl create job --from) is
    not adopted into the list, as the controller does not."""
    memory = step.memory
    for name in list(memory.active):
        child = by_name.get(name)
        if child is None:
            memory.active.remove(name)
            step.events.append(CronEvent("Normal", "MissingJob",
                                         f"Active job went missing: {name}"))
        elif child.finished is not None:
            memory.active.remove(name)
            step.events.append(CronEvent("Normal", "SawCompletedJob", f"Saw completed job: "
                                         f"{name}, condition: {child.finished}"))
    for child in by_name.values():
        if child.finished is not None and child.completion_time is not None and (
                memory.last_successful is None or child.completion_time > memory.last_successful):
            memory.last_successful = child.completion_time


def _clean_history(spec: CronSpec, step: CronStep, children: Sequence[ChildJob]) -> None:
    """Delete the oldest finished Jobs beyond successfulJobsHistoryLimit/failedJobsHistoryLimit."""
    for kind, limit in (("Complete", spec.successful_limit), ("Failed", spec.failed_limit)):
        if limit is None:
            continue
        done = sorted((c for c in children if c.finished == kind),
                      key=lambda c: (c.start_time if c.start_time is not None else c.created,
                                     c.name))
        for child in done[:max(0, len(done) - limit)]:
            step.delete.append(child.name)
            step.events.append(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {child.name}"))


__all__ = ["ChildJob", "CronEvent", "CronMemory", "CronSpec", "CronStep", "MostRecent",
           "SCHEDULED_TIMESTAMP", "job_name", "most_recent_schedule", "next_after",
           "plan_cronjob", "schedule_error", "scheduled_timestamp", "time_zone_error"]
