"""What `up --wait` makes of Jobs (host/readiness.py): their pods are not waited for, Jobs
are, a CronJob's are not, and a failed Job's message carries its reason and pods' logs."""

from __future__ import annotations

from localsvc.host.readiness import (
    daemonset_rolled_out,
    daemonsets_summary,
    failed_job_message,
    job_pods,
    jobs_summary,
    waited_jobs,
    waited_pods,
)
from localsvc.host.waiting import first_waiting


def owned(kind: str, uid: str, name: str, created: str = "") -> dict[str, object]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created,
                         "ownerReferences": [{"kind": kind, "uid": uid, "controller": True}]}}


def test_jobs_are_waited_for_but_not_their_pods_nor_cronjobs() -> None:
    plain = {"metadata": {"name": "migrate", "uid": "j1"}, "status": {}}
    scheduled = owned("CronJob", "c1", "nightly-1")
    done = {"metadata": {"name": "seed", "uid": "j2"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    found = waited_jobs([plain, scheduled, done])
    assert [(j.obj["metadata"]["name"], j.outcome) for j in found] == [
        ("migrate", None), ("seed", "Complete")]
    pods = [owned("Job", "j1", "migrate-abcde"), owned("ReplicaSet", "r", "web-1"),
            {"metadata": {"name": "bare"}}]
    assert [p["metadata"]["name"] for p in waited_pods(pods)] == ["web-1", "bare"]
    assert jobs_summary([plain]) == "waiting for jobs to complete: migrate"


def test_failed_job_message_names_reason_and_logs() -> None:
    job = {"metadata": {"name": "migrate", "uid": "j1", "namespace": "shop"},
           "status": {"conditions": [
               {"type": "FailureTarget", "status": "True"},
               {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"}]}}
    pods = [owned("Job", "j1", "migrate-b", "2027-01-01T00:00:02Z"),
            owned("Job", "j1", "migrate-a", "2027-01-01T00:00:01Z"), owned("Job", "x", "other")]
    assert [p["metadata"]["name"] for p in job_pods(job, pods)] == ["migrate-a", "migrate-b"]
    text = failed_job_message(job, [("migrate-a", "db", "connecting\nrelation exists\n")])
    assert text.splitlines() == [
        "job/migrate (namespace shop) failed: BackoffLimitExceeded: Job has reached the "
        "specified backoff limit",
        "--- pod migrate-a, container db, last lines of its log:",
        "    connecting", "    relation exists"]
    assert "(none of its pods has logs)" in failed_job_message(job, [])


def test_daemonsets_are_waited_for_until_rolled_out() -> None:
    def ds(generation: int, **status: int) -> dict[str, object]:
        return {"metadata": {"name": "agent", "generation": generation}, "status": status}

    assert not daemonset_rolled_out({"metadata": {"name": "agent", "generation": 1}})
    assert not daemonset_rolled_out(ds(2, observedGeneration=1, desiredNumberScheduled=1,
                                       updatedNumberScheduled=1, numberAvailable=1))
    assert not daemonset_rolled_out(ds(1, observedGeneration=1, desiredNumberScheduled=1,
                                       updatedNumberScheduled=1, numberAvailable=0))
    assert daemonset_rolled_out(ds(1, observedGeneration=1, desiredNumberScheduled=1,
                                   updatedNumberScheduled=1, numberAvailable=1))
    assert daemonset_rolled_out(ds(1, observedGeneration=1, desiredNumberScheduled=0))
    assert daemonsets_summary([ds(1)]) == "waiting for daemonsets: agent"


def test_only_routing_pending_is_reported_as_routing() -> None:
    """Regression: with only the Services' endpoints / the dataplane pending, the wait said
    "waiting for jobs to complete: " with no Job (and its Timeout carried that)."""
    text = first_waiting(lambda kind: [], [], lambda pods: False)
    assert text == "waiting for routing: the Services' endpoints and the node's dataplane"
    assert first_waiting(lambda kind: [], [], lambda pods: True) is None


def test_a_wait_reads_each_stage_only_when_those_before_it_are_ready() -> None:
    asked: list[str] = []
    pod = {"metadata": {"name": "web-1"}, "status": {"phase": "Pending"}}
    deployment = {"kind": "Deployment", "metadata": {"name": "web", "generation": 1},
                  "status": {}}
    objects: dict[str, list[dict[str, object]]] = {"pods": [pod], "deployments": [deployment]}

    def list_all(kind: str) -> list[dict[str, object]]:
        asked.append(kind)
        return list(objects.get(kind, []))

    running = waited_jobs([{"metadata": {"name": "migrate", "uid": "j1"}, "status": {}}])
    routes: list[int] = []
    text = first_waiting(list_all, running, lambda pods: routes.append(len(pods)) is None)
    assert text is not None and text.startswith("waiting for 1/1 pods: web-1 (")
    assert asked == ["pods"] and routes == []
    objects["pods"] = []
    assert first_waiting(list_all, running, lambda pods: True) == \
        "waiting for deployments: web"
    assert asked[1:] == ["pods", "deployments", "statefulsets"]
    objects["deployments"] = []
    assert first_waiting(list_all, running, lambda pods: True) == \
        "waiting for jobs to complete: migrate"
    assert asked[4:] == ["pods", "deployments", "statefulsets", "daemonsets"] and routes == []
