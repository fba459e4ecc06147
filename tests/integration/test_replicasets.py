"""Deployments own ReplicaSets own pods, on the real engine: a Deployment applied, its image
changed, then changed back (as `kubectl rollout undo` patches it) gets revisions 1, 2, 3 with
the first ReplicaSet reused at 3; the pods' ownerReferences carry their ReplicaSet's uid; the
Deployment's status says "successfully rolled out" by kubectl's own rule; and the real kubectl's
rollout status, history, undo and restart through the environment's Kubernetes API."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from localsvc.host.api import Environment
from localsvc.host.kubeobjects import list_objects
from tests.integration.conftest import DEMO_IMAGE, wait_for, write

Obj = dict[str, Any]


def app(version: str, cause: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {{kubernetes.io/change-cause: "{cause}"}}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: VERSION, value: "{version}"}}]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
"""


def rollout_message(deployment: Obj) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer.Status (polymorphichelpers/rollout_status.go)."""
    name, status, spec = deployment["metadata"]["name"], deployment["status"], deployment["spec"]
    if deployment["metadata"]["generation"] > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    progressing = next((c for c in status.get("conditions") or []
                        if c["type"] == "Progressing"), None)
    if progressing is not None and progressing["reason"] == "ProgressDeadlineExceeded":
        raise AssertionError(f'deployment "{name}" exceeded its progress deadline')
    updated, replicas = status.get("updatedReplicas", 0), status.get("replicas", 0)
    if updated < spec["replicas"]:
        return f"{updated} out of {spec['replicas']} new replicas have been updated", False
    if replicas > updated:
        return f"{replicas - updated} old replicas are pending termination", False
    if status.get("availableReplicas", 0) < updated:
        return "updated replicas not yet available", False
    return f'deployment "{name}" successfully rolled out', True


def objects(env: Environment, kind: str) -> list[Obj]:
    return list_objects(env.node(), kind)


def rolled_out(env: Environment) -> Obj | None:
    deployment = env.get("Deployment", "web")[0]
    return deployment if rollout_message(deployment)[1] else None


def pods_of(env: Environment) -> list[Obj]:
    return [p for p in objects(env, "Pod") if "deletionTimestamp" not in p["metadata"]]


def replicasets(env: Environment) -> dict[int, Obj]:
    return {int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]): r
            for r in objects(env, "ReplicaSet")}


def check_rolled_out(env: Environment, revision: int) -> dict[int, Obj]:
    """Wait for the rollout to `revision`; the ReplicaSets by revision, with the current one
    owning exactly the pods (each ownerReference carrying its uid) and the others none."""
    deployment = wait_for(lambda: rolled_out(env), timeout=50, what="the rollout")
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] \
        == str(revision)
    conditions = {c["type"]: c for c in deployment["status"]["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    wait_for(lambda: len(pods_of(env)) == 2, timeout=30, what="old pods to go")
    by_revision = replicasets(env)
    current = by_revision[revision]
    assert current["spec"]["replicas"] == 2 and current["status"]["readyReplicas"] == 2
    assert current["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
    hash_ = current["metadata"]["labels"]["pod-template-hash"]
    assert current["metadata"]["name"] == f"web-{hash_}"
    for pod in pods_of(env):
        assert pod["metadata"]["labels"]["pod-template-hash"] == hash_
        (owner,) = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "ReplicaSet", current["metadata"]["name"], current["metadata"]["uid"])
    for number, old in by_revision.items():
        if number != revision:
            assert old["spec"]["replicas"] == 0 and old["status"]["replicas"] == 0
    return by_revision


def test_image_change_and_undo_move_replicasets_through_revisions(env: Environment,
                                                                  tmp_path: Path) -> None:
    env.up([write(tmp_path, "v1.yaml", app("1", "first"))], wait=50)
    first = check_rolled_out(env, 1)
    assert list(first) == [1]
    assert first[1]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"

    env.apply([write(tmp_path, "v2.yaml", app("2", "second"))])
    second = check_rolled_out(env, 2)
    assert sorted(second) == [1, 2]
    assert second[1]["metadata"]["uid"] == first[1]["metadata"]["uid"]
    assert second[2]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "second"

    # What `kubectl rollout undo` writes: the template of revision 1 back.
    env.apply([write(tmp_path, "v1.yaml", app("1", "first"))])
    third = check_rolled_out(env, 3)
    assert sorted(third) == [2, 3]
    assert third[3]["metadata"]["uid"] == first[1]["metadata"]["uid"]  # reused, not new
    assert third[3]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"

    env.delete_objects("Deployment", ["web"])  # its ReplicaSets go with it
    wait_for(lambda: not objects(env, "ReplicaSet"), timeout=20, what="the ReplicaSets to go")


def restarted(version: str, at: str) -> str:
    """What `kubectl rollout restart` patches in: restartedAt in the pod template."""
    return app(version, "restart").replace(
        "    metadata: {labels: {app: web}}",
        f'    metadata: {{labels: {{app: web}}, annotations: '
        f'{{kubectl.kubernetes.io/restartedAt: "{at}"}}}}')


def test_a_rollout_restart_rolls_and_revisions_survive_a_node_restart(
        env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "v1.yaml", app("1", "first"))], wait=50)
    check_rolled_out(env, 1)
    env.apply([write(tmp_path, "v1.yaml", restarted("1", "2026-01-01T00:00:00Z"))])
    before = check_rolled_out(env, 2)
    assert before[2]["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    pods = {p["metadata"]["uid"]: p["metadata"]["ownerReferences"][0]["uid"]
            for p in pods_of(env)}

    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    after = check_rolled_out(env, 2)
    assert {n: r["metadata"]["uid"] for n, r in after.items()} == \
        {n: r["metadata"]["uid"] for n, r in before.items()}
    # The same pods (adopted, not re-created), owned by the same ReplicaSet.
    assert {p["metadata"]["uid"]: p["metadata"]["ownerReferences"][0]["uid"]
            for p in pods_of(env)} == pods


STUCK_AND_SLOW = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: stuck}}
spec:
  replicas: 1
  progressDeadlineSeconds: 4
  selector: {{matchLabels: {{app: stuck}}}}
  template:
    metadata: {{labels: {{app: stuck}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        readinessProbe: {{httpGet: {{path: /, port: 9999}}, periodSeconds: 1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: slow}}
spec:
  replicas: 1
  minReadySeconds: 5
  selector: {{matchLabels: {{app: slow}}}}
  template:
    metadata: {{labels: {{app: slow}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
"""


def test_progress_deadline_and_min_ready_seconds_move_status_with_no_event(
        env: Environment, tmp_path: Path) -> None:
    """Nothing changes in the store while a deadline passes or a ready pod ages: the
    controller resyncs rollouts in progress on its own."""
    env.apply([write(tmp_path, "app.yaml", STUCK_AND_SLOW)])

    def status(name: str) -> Obj:
        return dict(env.get("Deployment", name)[0].get("status") or {})

    def progressing(name: str) -> tuple[str, str]:
        found = [c for c in status(name).get("conditions") or [] if c["type"] == "Progressing"]
        return (found[0]["status"], found[0]["reason"]) if found else ("", "")

    ready = wait_for(lambda: status("slow") if status("slow").get("readyReplicas") else None,
                     timeout=30, what="the slow pod to be ready")
    ready_at = time.monotonic()
    assert not ready.get("availableReplicas"), "available before minReadySeconds"
    wait_for(lambda: status("slow").get("availableReplicas") == 1, timeout=20,
             what="the slow pod to be available")
    assert time.monotonic() - ready_at >= 3.5  # 5 s, less the time the first read took
    assert progressing("slow") == ("True", "NewReplicaSetAvailable")

    wait_for(lambda: progressing("stuck") == ("False", "ProgressDeadlineExceeded"),
             timeout=20, what="the stuck rollout to exceed its deadline")
    assert status("stuck").get("readyReplicas", 0) == 0
    assert rollout_message_raises(env.get("Deployment", "stuck")[0])


def rollout_message_raises(deployment: Obj) -> bool:
    try:
        rollout_message(deployment)
    except AssertionError as err:
        return "exceeded its progress deadline" in str(err)
    return False


def test_a_deleted_pod_of_a_deployment_is_replaced_at_once(env: Environment,
                                                          tmp_path: Path) -> None:
    """Regression: the controller looked up a Pod event's owner among the pods it keeps, and
    a deleted pod is no longer one: its Deployment was reconciled only by the 30 s resync."""
    env.up([write(tmp_path, "v1.yaml", app("1", "first"))], wait=50)
    victim = sorted(p["metadata"]["name"] for p in pods_of(env))[0]
    env.delete_objects("Pod", [victim])
    started = time.monotonic()

    def replaced() -> bool:
        names = {p["metadata"]["name"] for p in pods_of(env)}
        return len(names) == 2 and victim not in names
    wait_for(replaced, timeout=30, what="a replacement pod")
    assert time.monotonic() - started < 10


def test_a_replicaset_is_found_by_name_in_any_namespace(env: Environment,
                                                      tmp_path: Path) -> None:
    """Regression: the host's list of namespaced kinds lacked ReplicaSet (and Event), so
    get("rs", NAME, namespace=None) asked for it outside any namespace and raised."""
    env.up([write(tmp_path, "v1.yaml", app("1", "first"))], wait=50)
    name = env.get("rs")[0]["metadata"]["name"]
    found = env.get("rs", name, namespace=None)
    assert [(o["kind"], o["metadata"]["namespace"]) for o in found] == [
        ("ReplicaSet", "default")]


def test_kubectl_rollout_history_undo_restart_and_status(env: Environment,
                                                         tmp_path: Path) -> None:
    """The real kubectl through the environment's Kubernetes API: set env (revision 2),
    undo (revision 1's ReplicaSet back at 3), restart (4), each rolled out by `rollout
    status`, and `rollout history` listing what the ReplicaSets say."""
    env.up([write(tmp_path, "v1.yaml", app("1", "first"))], wait=50)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(env.kubeconfig()))
    config.chmod(0o600)

    def kubectl(*args: str, timeout: float = 30) -> str:
        done = subprocess.run(
            ["kubectl", f"--kubeconfig={config}", f"--cache-dir={tmp_path / 'cache'}", *args],
            capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def rolled_out() -> None:
        out = kubectl("rollout", "status", "deploy/web", "--timeout=40s", timeout=50)
        assert out.strip().endswith('deployment "web" successfully rolled out'), out

    def history() -> list[str]:
        out = kubectl("rollout", "history", "deploy/web", "--request-timeout=10s")
        return [line.split()[0] for line in out.splitlines()[2:] if line.strip()]

    rolled_out()
    kubectl("set", "env", "deploy/web", "VERSION=2", "--request-timeout=10s")
    rolled_out()
    assert history() == ["1", "2"]
    assert "rolled back" in kubectl("rollout", "undo", "deploy/web", "--request-timeout=10s")
    rolled_out()
    assert history() == ["2", "3"]
    first = env.get("Deployment", "web")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert first == [{"name": "VERSION", "value": "1"}]
    kubectl("rollout", "restart", "deploy/web", "--request-timeout=10s")
    rolled_out()
    assert history() == ["2", "3", "4"]
    assert len(replicasets(env)) == 3 and len(pods_of(env)) == 2
