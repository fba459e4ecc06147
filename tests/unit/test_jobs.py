"""The Job controller's decisions (model/jobs.py): completions and parallelism, work queues,
backoffLimit (failed pods and OnFailure restarts), the pod re-creation back-off, the deadline,
suspend, the TTL, the 1.32 conditions and the status kubectl reads."""

from __future__ import annotations

from localsvc.model import jobs
from localsvc.model.jobs import JobMemory, JobPod, JobSpec, job_status, plan_job

T0 = 1_000_000.0


def spec(**fields: object) -> JobSpec:
    base: dict[str, object] = {"completions": 1, "parallelism": 1, "backoffLimit": 6,
                               "template": {"spec": {"restartPolicy": "Never"}}}
    base.update(fields)
    return JobSpec.of(base)


def pod(name: str, phase: str = "Running", *, ready: bool = True, restarts: int = 0,
        ended: float | None = None, created: float = T0) -> JobPod:
    return JobPod(name, f"uid-{name}", phase, ready and phase == "Running", restarts,
                  ended if ended is not None or phase == "Running" else T0 + 1, created)


def types(memory: JobMemory) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in memory.conditions]


def test_a_new_job_starts_parallelism_pods_and_its_clock() -> None:
    step = plan_job(spec(completions=5, parallelism=2), JobMemory(uid="j"), [], 0, T0)
    assert (step.create, step.delete, step.memory.start_time) == (2, [], T0)
    assert not step.memory.conditions


def test_no_more_pods_than_completions_left() -> None:
    pods = [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c")]
    step = plan_job(spec(completions=3, parallelism=3), JobMemory(start_time=T0), pods, 0, T0 + 5)
    assert step.create == 0 and step.memory.succeeded == 2
    assert job_status(step.memory, pods, 0)["active"] == 1


def test_completions_reached_adds_success_criteria_then_complete() -> None:
    pods = [pod("a", "Succeeded"), pod("b", "Succeeded")]
    step = plan_job(spec(completions=2, parallelism=2), JobMemory(start_time=T0), pods, 0, T0 + 9)
    assert types(step.memory) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                  ("Complete", "True", "CompletionsReached")]
    assert step.memory.completion_time == T0 + 9
    assert [e.reason for e in step.events] == ["Completed"]
    status = job_status(step.memory, pods, 0)
    assert status["succeeded"] == 2 and status["completionTime"] and status["ready"] == 0
    assert status["uncountedTerminatedPods"] == {} and status["terminating"] == 0
    again = plan_job(spec(completions=2), step.memory, pods, 0, T0 + 20)
    assert (again.create, again.delete, again.memory.succeeded) == (0, [], 2)  # counted once


def test_complete_waits_for_the_pods_it_deletes() -> None:
    # Parallelism above what is left: a surplus running pod is deleted before Complete.
    pods = [pod("a", "Succeeded"), pod("b")]
    step = plan_job(spec(completions=1, parallelism=2), JobMemory(start_time=T0), pods, 0, T0 + 1)
    assert step.delete == ["b"]
    assert types(step.memory) == [("SuccessCriteriaMet", "True", "CompletionsReached")]
    later = plan_job(spec(completions=1, parallelism=2), step.memory, pods[:1], 1, T0 + 2)
    assert "Complete" not in [c["type"] for c in later.memory.conditions]  # still terminating
    done = plan_job(spec(completions=1, parallelism=2), later.memory, pods[:1], 0, T0 + 3)
    assert done.memory.has("Complete") and done.memory.completion_time == T0 + 3


def test_work_queue_completes_when_one_succeeded_and_the_rest_ended() -> None:
    queue = spec(completions=None, parallelism=3)
    pods = [pod("a", "Succeeded"), pod("b"), pod("c")]
    step = plan_job(queue, JobMemory(start_time=T0), pods, 0, T0 + 1)
    assert (step.create, step.delete, step.memory.conditions) == (0, [], [])
    done = [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Succeeded")]
    assert plan_job(queue, step.memory, done, 0, T0 + 2).memory.has("Complete")


def test_failed_pods_beyond_the_backoff_limit_fail_the_job() -> None:
    limit = spec(backoffLimit=1)
    first = plan_job(limit, JobMemory(start_time=T0), [pod("a", "Failed", ended=T0 + 1)], 0,
                     T0 + 1)
    assert first.memory.failed == 1 and not first.memory.conditions
    assert first.create == 0 and first.wake_at == T0 + 11  # the 10 s back-off
    retried = plan_job(limit, first.memory, [pod("a", "Failed", ended=T0 + 1)], 0, T0 + 11)
    assert retried.create == 1
    both = [pod("a", "Failed", ended=T0 + 1), pod("b", "Failed", ended=T0 + 14)]
    failed = plan_job(limit, retried.memory, both, 0, T0 + 14)
    assert types(failed.memory) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                    ("Failed", "True", "BackoffLimitExceeded")]
    assert failed.memory.condition("Failed")["message"] == \
        "Job has reached the specified backoff limit"
    assert failed.memory.completion_time is None and failed.create == 0
    assert [(e.type, e.reason) for e in failed.events] == [("Warning", "BackoffLimitExceeded")]
    assert job_status(failed.memory, both, 0)["failed"] == 2


def test_backoff_limit_zero_fails_at_the_first_failure() -> None:
    step = plan_job(spec(backoffLimit=0), JobMemory(start_time=T0), [pod("a", "Failed")], 0,
                    T0 + 2)
    assert step.memory.has("Failed")


def test_on_failure_counts_container_restarts_of_active_pods() -> None:
    on_failure = spec(backoffLimit=2, template={"spec": {"restartPolicy": "OnFailure"}})
    step = plan_job(on_failure, JobMemory(start_time=T0), [pod("a", restarts=1)], 0, T0 + 1)
    assert not step.memory.conditions
    step = plan_job(on_failure, step.memory, [pod("a", restarts=2)], 0, T0 + 2)
    assert step.delete == ["a"]
    assert types(step.memory) == [("FailureTarget", "True", "BackoffLimitExceeded")]


def test_recreation_backoff_doubles_to_six_minutes_and_a_success_resets_it() -> None:
    assert [jobs.pod_failure_backoff(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 320]
    assert jobs.pod_failure_backoff(8) == 360
    memory = JobMemory(start_time=T0, failures_after_success=3, last_failure=T0)
    waiting = plan_job(spec(completions=2), memory, [], 0, T0 + 39)
    assert waiting.create == 0 and waiting.wake_at == T0 + 40
    ok = plan_job(spec(completions=2), memory, [pod("s", "Succeeded", ended=T0 + 50)], 0, T0 + 50)
    assert ok.memory.failures_after_success == 0 and ok.create == 1


def test_active_deadline_fails_the_job_and_deletes_its_pods() -> None:
    deadline = spec(activeDeadlineSeconds=30)
    early = plan_job(deadline, JobMemory(start_time=T0), [pod("a")], 0, T0 + 10)
    assert early.wake_at == T0 + 30 and not early.memory.conditions
    late = plan_job(deadline, early.memory, [pod("a")], 0, T0 + 30)
    assert late.delete == ["a"]
    assert types(late.memory) == [("FailureTarget", "True", "DeadlineExceeded")]
    gone = plan_job(deadline, late.memory, [], 0, T0 + 31)
    assert gone.memory.condition("Failed")["message"] == \
        "Job was active longer than specified deadline"


def test_ttl_after_finished_deletes_the_job() -> None:
    ttl = spec(ttlSecondsAfterFinished=5)
    done = plan_job(ttl, JobMemory(start_time=T0), [pod("a", "Succeeded")], 0, T0 + 1)
    assert not done.delete_job and done.wake_at == T0 + 6
    assert plan_job(ttl, done.memory, [pod("a", "Succeeded")], 0, T0 + 6).delete_job
    assert not plan_job(spec(), done.memory, [], 0, T0 + 1000).delete_job  # no TTL: kept


def test_suspend_deletes_active_pods_and_resume_starts_again() -> None:
    suspended = plan_job(spec(suspend=True), JobMemory(start_time=T0), [pod("a")], 0, T0 + 1)
    assert suspended.delete == ["a"] and suspended.memory.start_time is None
    assert types(suspended.memory) == [("Suspended", "True", "JobSuspended")]
    resumed = plan_job(spec(), suspended.memory, [], 0, T0 + 5)
    assert types(resumed.memory) == [("Suspended", "False", "JobResumed")]
    assert resumed.create == 1 and resumed.memory.start_time == T0 + 5


def test_memory_round_trips_through_json() -> None:
    step = plan_job(spec(), JobMemory(uid="u"), [pod("a", "Failed")], 0, T0)
    assert JobMemory.from_json(step.memory.to_json()) == step.memory
    assert JobMemory.from_json(None) == JobMemory()


def test_generated_selector_and_labels_and_kept_on_update() -> None:
    job = {"kind": "Job", "metadata": {"name": "m", "uid": "u1"},
           "spec": {"template": {"metadata": {"labels": {"app": "m"}}, "spec": {}}}}
    out = jobs.with_generated_selector(job, None)
    assert out["spec"]["selector"] == {"matchLabels": {jobs.CONTROLLER_UID: "u1"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {
        "app": "m", "batch.kubernetes.io/controller-uid": "u1",
        "batch.kubernetes.io/job-name": "m", "controller-uid": "u1", "job-name": "m"}
    # A Job without labels takes its template's (SetDefaults_Job on every read), not one with.
    assert out["metadata"]["labels"] == out["spec"]["template"]["metadata"]["labels"]
    labelled = jobs.with_generated_selector(
        {**job, "metadata": {**job["metadata"], "labels": {"team": "db"}}}, None)
    assert labelled["metadata"]["labels"] == {"team": "db"}
    assert "selector" not in job["spec"]  # not changed in place
    again = jobs.with_generated_selector({**job, "metadata": {"name": "m", "uid": "u1"}}, out)
    assert again["spec"] == out["spec"]
    manual = {**job, "spec": {**job["spec"], "manualSelector": True}}
    assert jobs.with_generated_selector(manual, None) is manual


def test_job_finished_reads_the_terminal_condition() -> None:
    assert jobs.job_finished({"status": {"conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"}]}}) is None
    assert jobs.job_finished({"status": {"conditions": [
        {"type": "Failed", "status": "True"}]}}) == "Failed"
    assert jobs.job_finished({}) is None


def test_indexed_jobs_run_each_index_once() -> None:
    indexed = spec(completions=4, parallelism=2, completionMode="Indexed")
    first = plan_job(indexed, JobMemory(), [], 0, T0)
    assert (first.create, first.indexes) == (2, [0, 1])
    pods = [JobPod("a", "ua", "Succeeded", finished_at=T0 + 1, index=0),
            JobPod("b", "ub", "Running", True, index=1)]
    second = plan_job(indexed, first.memory, pods, 0, T0 + 2)
    assert second.indexes == [2] and second.memory.completed_indexes == "0"
    again = [*pods, JobPod("c", "uc", "Succeeded", finished_at=T0 + 3, index=0)]  # a repeat
    third = plan_job(indexed, second.memory, again, 0, T0 + 4)
    assert third.memory.succeeded == 1  # an index counts once
    done = [JobPod(n, f"u{n}", "Succeeded", finished_at=T0 + 5, index=i)
            for i, n in enumerate("wxyz")]
    final = plan_job(indexed, third.memory, done, 0, T0 + 6)
    assert final.memory.completed_indexes == "0-3" and final.memory.has("Complete")
    assert job_status(final.memory, done, 0)["completedIndexes"] == "0-3"


def test_index_ranges_and_pod_specs() -> None:
    from localsvc.model import jobindex

    assert jobindex.format_indexes([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert jobindex.parse_indexes("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert jobindex.next_indexes(5, {0, 2}, {1}, 3) == [3, 4]
    pod_spec = jobindex.indexed_pod_spec({"containers": [{"name": "c", "env": [
        {"name": "A", "value": "1"}]}]}, "work", 3)
    assert pod_spec["hostname"] == "work-3"
    assert pod_spec["containers"][0]["env"][1] == {"name": "JOB_COMPLETION_INDEX", "valueFrom": {
        "fieldRef": {"apiVersion": "v1",
                     "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}
    assert jobindex.index_of({"metadata": {"annotations": {jobindex.INDEX_KEY: "3"}}}) == 3
