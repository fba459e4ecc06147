"""The CronJob controller's decisions with a fake clock (model/cronjobs.py): schedules and
macros, time zones, missed start times (at most one catch-up, startingDeadlineSeconds, too many
missed), concurrency policies, suspend, history limits, Job names and annotations."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from localsvc.model import cronjobs as cron
from localsvc.model.cronjobs import ChildJob, CronMemory, CronSpec, plan_cronjob


def at(text: str, zone: str = "UTC") -> float:
    """Epoch seconds of "YYYY-MM-DD HH:MM:SS" in `zone`."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


CREATED = at("2027-03-01 10:00:30")


def spec(schedule: str = "*/5 * * * *", **fields: object) -> CronSpec:
    return CronSpec.of({"schedule": schedule, **fields})


def test_schedule_errors() -> None:
    assert cron.schedule_error("*/5 * * * *") is None
    assert cron.schedule_error("@hourly") is None and cron.schedule_error("@midnight") is None
    assert "TZ or CRON_TZ" in (cron.schedule_error("TZ=UTC 0 * * * *") or "")
    assert "exactly 5 fields, found 6" in (cron.schedule_error("0 0 * * * *") or "")
    assert "@every" in (cron.schedule_error("@every 5m") or "")
    assert "unrecognized descriptor" in (cron.schedule_error("@fortnightly") or "")
    assert "invalid schedule" in (cron.schedule_error("0 25 * * *") or "")
    assert cron.time_zone_error("Europe/Berlin") is None
    assert cron.time_zone_error("Nowhere/Special") is not None
    assert cron.time_zone_error("../etc/passwd") is not None


def test_nothing_before_the_first_start_time() -> None:
    step = plan_cronjob(spec(), "c", CronMemory(), [], CREATED, at("2027-03-01 10:04:59"))
    assert step.create is None and step.wake_at == at("2027-03-01 10:05:00")


def test_a_due_start_time_makes_one_job_named_by_its_minute() -> None:
    now = at("2027-03-01 10:05:01")
    step = plan_cronjob(spec(), "c", CronMemory(), [], CREATED, now)
    scheduled = at("2027-03-01 10:05:00")
    assert step.create == scheduled
    assert step.memory.last_schedule == scheduled
    assert cron.job_name("c", scheduled) == f"c-{int(scheduled) // 60}"
    assert step.memory.active == [cron.job_name("c", scheduled)]
    again = plan_cronjob(spec(), "c", step.memory, [ChildJob(step.memory.active[0])], CREATED,
                         now + 30)
    assert again.create is None  # already started


def test_missed_start_times_run_once_the_latest() -> None:
    now = at("2027-03-01 10:31:00")  # 10:05 ... 10:30 missed (six of them)
    step = plan_cronjob(spec(), "c", CronMemory(), [], CREATED, now)
    assert step.create == at("2027-03-01 10:30:00")
    recent = cron.most_recent_schedule("*/5 * * * *", None, CREATED, now, None)
    assert recent.missed == 6


def test_starting_deadline_skips_a_start_too_late() -> None:
    late = plan_cronjob(spec(startingDeadlineSeconds=20), "c", CronMemory(), [], CREATED,
                        at("2027-03-01 10:05:30"))
    assert late.create is None
    ok = plan_cronjob(spec(startingDeadlineSeconds=60), "c", CronMemory(), [], CREATED,
                      at("2027-03-01 10:05:30"))
    assert ok.create == at("2027-03-01 10:05:00")


def test_too_many_missed_start_times_are_reported() -> None:
    now = at("2027-03-02 10:00:30")  # a day of every minute: 1440 missed
    step = plan_cronjob(spec("* * * * *"), "c", CronMemory(), [], CREATED, now)
    assert [e.reason for e in step.events] == ["TooManyMissedTimes"]
    assert step.create == at("2027-03-02 10:00:00")  # still one, the latest


def test_time_zone_and_macros() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter.
    step = plan_cronjob(spec("0 9 * * *", timeZone="Europe/Berlin"), "c", CronMemory(), [],
                        at("2027-03-01 07:00:00"), at("2027-03-01 08:00:05"))
    assert step.create == at("2027-03-01 09:00:00", "Europe/Berlin")
    assert cron.scheduled_timestamp(step.create, "Europe/Berlin") == "2027-03-01T09:00:00+01:00"
    assert cron.scheduled_timestamp(step.create, None) == "2027-03-01T08:00:00Z"
    hourly = plan_cronjob(spec("@hourly"), "c", CronMemory(), [], CREATED,
                          at("2027-03-01 11:00:02"))
    assert hourly.create == at("2027-03-01 11:00:00")
    assert cron.next_after("0 2 * * *", "America/New_York", at("2027-03-01 00:00:00")) == \
        datetime(2027, 3, 1, 7, 0, tzinfo=timezone.utc).timestamp()


def test_forbid_skips_while_a_job_runs_and_replace_deletes_it() -> None:
    running = CronMemory(last_schedule=at("2027-03-01 10:05:00"), active=["c-old"])
    now = at("2027-03-01 10:10:01")
    children = [ChildJob("c-old")]
    forbid = plan_cronjob(spec(concurrencyPolicy="Forbid"), "c", running, children, CREATED, now)
    assert forbid.create is None and [e.reason for e in forbid.events] == ["JobAlreadyActive"]
    replace = plan_cronjob(spec(concurrencyPolicy="Replace"), "c", running, children, CREATED, now)
    assert replace.delete == ["c-old"] and replace.create == at("2027-03-01 10:10:00")
    assert replace.memory.active == [cron.job_name("c", at("2027-03-01 10:10:00"))]
    allow = plan_cronjob(spec(), "c", running, children, CREATED, now)
    assert allow.delete == [] and len(allow.memory.active) == 2


def test_finished_jobs_leave_the_active_list_and_set_the_last_success() -> None:
    memory = CronMemory(last_schedule=at("2027-03-01 10:05:00"), active=["c-1", "c-gone"])
    done = ChildJob("c-1", "Complete", completion_time=at("2027-03-01 10:05:09"))
    step = plan_cronjob(spec(), "c", memory, [done], CREATED, at("2027-03-01 10:06:00"))
    assert step.memory.active == []
    assert step.memory.last_successful == at("2027-03-01 10:05:09")
    assert sorted(e.reason for e in step.events) == ["MissingJob", "SawCompletedJob"]


def test_suspend_schedules_nothing() -> None:
    step = plan_cronjob(spec(suspend=True), "c", CronMemory(), [], CREATED,
                        at("2027-03-01 10:05:01"))
    assert step.create is None and step.wake_at is None


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    children = [ChildJob(f"ok-{i}", "Complete", start_time=float(i)) for i in range(5)]
    children += [ChildJob(f"bad-{i}", "Failed", start_time=float(i)) for i in range(3)]
    children.append(ChildJob("running"))
    defaults = spec(successfulJobsHistoryLimit=3, failedJobsHistoryLimit=1)  # the API's
    step = plan_cronjob(defaults, "c", CronMemory(), children, CREATED, at("2027-03-01 10:01:00"))
    assert step.delete == ["ok-0", "ok-1", "bad-0", "bad-1"]
    assert plan_cronjob(spec(), "c", CronMemory(), children, CREATED,
                        at("2027-03-01 10:01:00")).delete == []  # no limits: all kept
    none_kept = plan_cronjob(spec(successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0), "c",
                             CronMemory(), children, CREATED, at("2027-03-01 10:01:00"))
    assert len(none_kept.delete) == 8


def test_memory_round_trips_through_json() -> None:
    memory = CronMemory("u", 1.0, 2.0, ["a"])
    assert CronMemory.from_json(memory.to_json()) == memory
    assert CronMemory.from_json("junk") == CronMemory()
