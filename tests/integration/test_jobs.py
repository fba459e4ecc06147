"""Jobs on the real engine: completions with parallelism, backoffLimit, activeDeadlineSeconds,
ttlSecondsAfterFinished, `up -d --wait` waiting for a Job and failing with its pods' logs, and
the real kubectl reading them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from localsvc.runtime import environment as envrt
from tests.integration.conftest import DEMO_IMAGE, localsvc, wait_for, write
import pytest

from tests.integration.kubectl_support import Kubectl, write_kubeconfig

Obj = dict[str, Any]


@pytest.fixture
def kubectl(env: Environment, tmp_path: Path) -> Kubectl:
    """The real kubectl against this test's own environment."""
    env.ensure()
    return Kubectl(env, write_kubeconfig(env, tmp_path))


def job(name: str, script: str, extra: str = "", restart: str = "Never") -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
{extra}  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      restartPolicy: {restart}
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: {DEMO_IMAGE}
        command: ["sh", "-c", "{script}"]
"""


def conditions(obj: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def pods_of(env: Environment, name: str) -> list[Obj]:
    return [p for p in env.get("pods", namespace="default")
            if p["metadata"].get("labels", {}).get("batch.kubernetes.io/job-name") == name]


def the_job(env: Environment, name: str) -> Obj:
    return env.get("jobs", name)[0]


def test_completions_with_parallelism_complete(env: Environment, tmp_path: Path,
                                               kubectl: Kubectl) -> None:
    manifest = job("count", "sleep 1; echo counted $HOSTNAME",
                   "  completions: 3\n  parallelism: 2\n")
    env.up([write(tmp_path, "job.yaml", manifest)], wait=60)  # returns once it completed
    done = the_job(env, "count")
    status = done["status"]
    assert (status["succeeded"], status["ready"], status["terminating"]) == (3, 0, 0)
    assert "active" not in status and "failed" not in status
    assert status["startTime"] <= status["completionTime"]
    found = conditions(done)
    assert list(found) == ["SuccessCriteriaMet", "Complete"]
    assert found["Complete"]["reason"] == "CompletionsReached"
    assert found["Complete"]["message"] == "Reached expected number of succeeded pods"
    uid = done["metadata"]["uid"]
    assert done["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    pods = pods_of(env, "count")
    assert len(pods) == 3  # finished pods stay until the Job goes
    for pod in pods:
        meta = pod["metadata"]
        assert meta["name"].startswith("count-") and len(meta["name"]) == len("count-") + 5
        assert meta["labels"]["controller-uid"] == uid and meta["labels"]["job-name"] == "count"
        assert meta["labels"]["batch.kubernetes.io/controller-uid"] == uid
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", "count", uid)
        assert pod["status"]["phase"] == "Succeeded"
    table = kubectl.run("get", "jobs", "--no-headers").stdout.split()
    assert table[:3] == ["count", "Complete", "3/3"]
    pods_table = kubectl.run("get", "pods", "--no-headers").stdout
    assert pods_table.count("Completed") == 3
    assert localsvc(env, "get", "jobs", "--no-headers").stdout.split()[:3] == [
        "count", "Complete", "3/3"]
    logs = localsvc(env, "logs", "job/count").stdout
    assert "counted count-" in logs
    assert "counted count-" in kubectl.run("logs", "job/count").stdout  # through the selector
    kubectl.run("wait", "--for=condition=complete", "job/count", "--timeout=5s")
    kubectl.run("delete", "job", "count")  # the pods go with it
    wait_for(lambda: not pods_of(env, "count"), timeout=30, what="the Job's pods to go")


def test_failing_job_reaches_its_backoff_limit_and_up_wait_shows_its_logs(
        env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "migrate.yaml", job(
        "migrate", "echo applying schema; echo relation users exists >&2; exit 3",
        "  backoffLimit: 1\n"))
    result = localsvc(env, "up", "-d", "--wait", "60", "-f", str(manifest), check=False)
    assert result.returncode != 0, result.stdout
    output = result.stdout + result.stderr
    assert "job/migrate" in output and "BackoffLimitExceeded" in output, output
    assert "Job has reached the specified backoff limit" in output
    assert "container work" in output and "relation users exists" in output, output
    failed = the_job(env, "migrate")
    found = conditions(failed)
    assert list(found) == ["FailureTarget", "Failed"]
    assert found["Failed"]["reason"] == "BackoffLimitExceeded"
    assert failed["status"]["failed"] == 2 and "completionTime" not in failed["status"]
    pods = pods_of(env, "migrate")
    assert sorted(p["status"]["phase"] for p in pods) == ["Failed", "Failed"]
    # The controller's back-off: the second pod started 10 s after the first one failed.
    first, second = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"])
    ended = first["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    assert second["metadata"]["creationTimestamp"] >= ended


def test_deadline_and_ttl(env: Environment, tmp_path: Path, kubectl: Kubectl) -> None:
    slow = job("slow", "sleep 300", "  activeDeadlineSeconds: 2\n")
    brief = job("brief", "echo done", "  ttlSecondsAfterFinished: 2\n")
    env.apply([write(tmp_path, "jobs.yaml", slow + "---" + brief)])
    failed = wait_for(lambda: "Failed" in conditions(the_job(env, "slow")) and the_job(
        env, "slow"), timeout=40, what="the deadline")
    assert conditions(failed)["Failed"]["reason"] == "DeadlineExceeded"
    assert conditions(failed)["Failed"]["message"] == "Job was active longer than specified deadline"
    assert not [p for p in pods_of(env, "slow")], "the active pod is deleted"
    assert failed["status"]["failed"] == 1  # the deleted pod counts as failed
    wait_for(lambda: not env.get("jobs", namespace="default") or all(
        j["metadata"]["name"] != "brief" for j in env.get("jobs", namespace="default")),
        timeout=40, what="the TTL to delete the Job")
    wait_for(lambda: not pods_of(env, "brief"), timeout=30, what="its pods to go")
    described = json.loads(kubectl.run("get", "job", "slow", "-o", "json").stdout)
    assert described["status"]["conditions"][-1]["type"] == "Failed"


def test_a_completed_job_stays_complete_across_a_node_restart(env: Environment,
                                                              tmp_path: Path) -> None:
    env.up([write(tmp_path, "job.yaml", job("once", "echo once", "  completions: 2\n"))],
           wait=60)
    before = the_job(env, "once")
    pods = sorted(p["metadata"]["uid"] for p in pods_of(env, "once"))
    node = env.docker.containers.get(envrt.node_name(env.name))
    node.stop(timeout=10)
    node.start()
    envrt.wait_healthy(env.docker, env.name, timeout=60)
    after = wait_for(lambda: the_job(env, "once").get("status", {}).get("succeeded") and
                     the_job(env, "once"), timeout=30, what="the Job's status after the restart")
    assert after["status"]["succeeded"] == 2 and "Complete" in conditions(after)
    assert after["status"]["completionTime"] == before["status"]["completionTime"]
    assert sorted(p["metadata"]["uid"] for p in pods_of(env, "once")) == pods  # not run again
    phases = [(p["metadata"]["name"], p["status"]) for p in pods_of(env, "once")]
    assert all(status["phase"] == "Succeeded" for _, status in phases), phases


def test_an_indexed_job_runs_each_index_once(env: Environment, tmp_path: Path) -> None:
    manifest = job("shard", "echo shard $JOB_COMPLETION_INDEX of $HOSTNAME",
                   "  completionMode: Indexed\n  completions: 3\n  parallelism: 2\n")
    env.up([write(tmp_path, "job.yaml", manifest)], wait=60)
    done = the_job(env, "shard")
    assert done["status"]["completedIndexes"] == "0-2" and done["status"]["succeeded"] == 3
    pods = pods_of(env, "shard")
    assert sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                  for p in pods) == ["0", "1", "2"]
    for pod in pods:
        index = pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["name"].startswith(f"shard-{index}-")
        logs = b"".join(env.logs(pod["metadata"]["name"], tail=5)).decode()
        assert logs.strip() == f"shard {index} of shard-{index}"
