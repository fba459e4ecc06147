"""What `up --wait` makes of Jobs (host/readiness.py): their pods are not waited for, Jobs
are, a CronJob's are not, and a failed Job's message carries its reason and pods' logs."""

from __future__ import annotations

from localsvc.host.readiness import (
    daemonset_rolled_out,
    failed_job_message,
    job_pods,
    waited_jobs,
    waited_pods,
    waiting_summary,
)


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
    assert waiting_summary([], 2, [], [plain]) == "waiting for jobs to complete: migrate"


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
    assert waiting_summary([], 1, [], [], [ds(1)]) == "waiting for daemonsets: agent"


def test_only_routing_pending_is_reported_as_routing() -> None:
    """Regression: with only the Services' endpoints / the dataplane pending, the wait said
    "waiting for jobs to complete: " with no Job (and its Timeout carried that)."""
    text = waiting_summary([], 2, [], [], [])
    assert text == "waiting for routing: the Services' endpoints and the node's dataplane"
    assert waiting_summary([], 2, []) == text


def test_a_wait_lists_again_only_the_kinds_the_environment_has() -> None:
    from localsvc.host.waiting import KindLists

    asked: list[str] = []
    objects = {"deployments": [{"metadata": {"name": "web"}}]}

    def list_all(kind: str) -> list[dict[str, object]]:
        asked.append(kind)
        return list(objects.get(kind, []))

    lists = KindLists(list_all)
    for _ in range(3):
        assert [lists.get(k) for k in ("deployments", "jobs", "daemonsets")] == [
            objects["deployments"], [], []]
    assert asked == ["deployments", "jobs", "daemonsets", "deployments", "deployments"]
    objects["deployments"] = []  # a kind that had objects is listed on: it may empty and refill
    assert lists.get("deployments") == [] and asked[-1] == "deployments"
    lists.get("deployments")
    assert asked.count("deployments") == 5
