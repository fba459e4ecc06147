"""CronJobs on the real engine: `kubectl create job --from=cronjob/X` (a plain Job create),
the Job an every-minute schedule makes at the next minute (named by its minute, owned by the
CronJob, annotated with its scheduled time), status and the kubectl table, and deleting the
CronJob deleting its Jobs and their pods."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, localsvc, wait_for, write
from tests.integration.kubectl_support import Kubectl, write_kubeconfig

Obj = dict[str, Any]
CRONJOB = f"""
apiVersion: batch/v1
kind: CronJob
metadata: {{name: tick}}
spec:
  schedule: "* * * * *"
  jobTemplate:
    metadata: {{labels: {{app: tick}}}}
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 0
          containers:
          - name: tick
            image: {DEMO_IMAGE}
            command: ["sh", "-c", "echo tick"]
"""


@pytest.fixture
def kubectl(env: Environment, tmp_path: Path) -> Kubectl:
    env.ensure()
    return Kubectl(env, write_kubeconfig(env, tmp_path))


def jobs(env: Environment) -> dict[str, Obj]:
    return {j["metadata"]["name"]: j for j in env.get("jobs", namespace="default")}


def test_every_minute_schedule_and_create_job_from(env: Environment, tmp_path: Path,
                                                   kubectl: Kubectl) -> None:
    env.up([write(tmp_path, "cj.yaml", CRONJOB)], wait=60)  # a CronJob is not waited for
    applied = time.time()
    kubectl.run("create", "job", "by-hand", "--from=cronjob/tick")
    wait_for(lambda: "Complete" in str(jobs(env).get("by-hand", {}).get("status")),
             timeout=40, what="the Job made by hand to complete")
    owner = jobs(env)["by-hand"]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("CronJob", "tick")
    table = kubectl.run("get", "cronjobs", "--no-headers").stdout.split()
    assert table[:7] == ["tick", "*", "*", "*", "*", "*", "<none>"]  # the schedule's 5 words
    assert localsvc(env, "get", "cj", "--no-headers").stdout.split()[:8] == [
        "tick", "*", "*", "*", "*", "*", "<none>", "False"]

    # The schedule's own Job, at the start of the next minute.
    minute = int(applied // 60) + 1
    name = f"tick-{minute}"
    made = wait_for(lambda: jobs(env).get(name), timeout=minute * 60 - time.time() + 15,
                    what="the scheduled Job")
    meta = made["metadata"]
    assert meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    assert meta["labels"]["app"] == "tick"
    assert meta["ownerReferences"][0]["uid"] == env.get("cronjobs", "tick")[0]["metadata"]["uid"]
    scheduled_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))

    def settled() -> Obj | None:
        status: Obj = env.get("cronjobs", "tick")[0].get("status") or {}
        done = status.get("lastSuccessfulTime", "") >= scheduled_at and "active" not in status
        return status if done else None

    status = wait_for(settled, timeout=30, what="the scheduled Job to complete")
    assert status["lastScheduleTime"] == scheduled_at

    kubectl.run("delete", "cronjob", "tick")  # its Jobs and their pods go with it
    wait_for(lambda: not jobs(env), timeout=30, what="the CronJob's Jobs to go")
    wait_for(lambda: not env.get("pods", namespace="default"), timeout=30, what="their pods")
