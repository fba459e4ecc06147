"""StatefulSets on the real engine, driven by the real kubectl v1.32: pods `web-0..2` start in
order (web-1 only once web-0 is Ready), each resolves as `web-N.web.NS.svc.cluster.local`
through the governing headless Service, a deleted pod comes back under its name, a template
change with partition 1 updates only web-1 and up (from the highest), `kubectl rollout status`
follows it, OnDelete replaces only the pods deleted, a scale-down removes the highest pod first,
orphaned pods are adopted by a set applied again, volumeClaimTemplates give each ordinal its
claim, kept on scale-down unless the retention policy says Delete, and `up --wait`, the CLI and
a node restart know StatefulSets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, exec_out, localsvc, wait_for, write
from tests.integration.kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: F401

Obj = dict[str, Any]


def web(replicas: int = 3, policy: str = "OrderedReady", extra_env: str = "1") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{port: 8080}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: {replicas}
  podManagementPolicy: {policy}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: VERSION, value: "{extra_env}"}}]
        readinessProbe:
          httpGet: {{path: /, port: 8080}}
          initialDelaySeconds: 2
          periodSeconds: 1
"""


def pods(kubectl: Kubectl, namespace: str, app: str = "web") -> dict[str, Obj]:
    """The set's pods that are not terminating, by name."""
    items = kubectl.json("get", "pods", "-n", namespace, "-l", f"app={app}")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def wait_all_ready(kubectl: Kubectl, namespace: str, names: set[str],
                   timeout: float = 45) -> dict[str, Obj]:
    def check() -> dict[str, Obj] | None:
        found = pods(kubectl, namespace)
        return found if set(found) == names and all(map(ready, found.values())) else None
    result: dict[str, Obj] = wait_for(check, timeout, 0.3, f"pods {sorted(names)} ready")
    return result


def test_pods_start_in_order_with_stable_identity_and_dns(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web())
    # Observe creation: web-1 never exists while web-0 is not Ready, nor web-2 before web-1.
    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        found = pods(kubectl, ns)
        seen.append(tuple(sorted(found)))
        for ordinal in (1, 2):
            if f"web-{ordinal}" in found:
                before = found.get(f"web-{ordinal - 1}")
                assert before is not None and ready(before), (ordinal, seen)
        if len(found) == 3 and all(map(ready, found.values())):
            break
        time.sleep(0.2)
    assert [s for s in dict.fromkeys(seen) if s] == [
        ("web-0",), ("web-0", "web-1"), ("web-0", "web-1", "web-2")]
    running = wait_all_ready(kubectl, ns, {"web-0", "web-1", "web-2"})
    zero = running["web-0"]
    assert zero["spec"]["hostname"] == "web-0" and zero["spec"]["subdomain"] == "web"
    labels = zero["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"].startswith("web-")
    owner = zero["metadata"]["ownerReferences"][0]
    sts = kubectl.json("get", "sts", "web", "-n", ns)
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "StatefulSet", sts["metadata"]["uid"], True)
    # The pod's hostname is its name; its FQDN resolves from another pod to its IP.
    assert exec_out(kubectl.env, "web-0", "hostname", namespace=ns).strip() == "web-0"
    address = exec_out(kubectl.env, "web-2", "python3", "-c",
                       "import socket; print(socket.gethostbyname("
                       f"'web-0.web.{ns}.svc.cluster.local'))", namespace=ns).strip()
    assert address == zero["status"]["podIP"]
    status = wait_for(lambda: (s := kubectl.json("get", "sts", "web", "-n", ns)["status"])
                      .get("availableReplicas") == 3 and s, 20, 0.3, "status")
    assert status["replicas"] == status["readyReplicas"] == status["currentReplicas"] == \
        status["updatedReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"] == \
        labels["controller-revision-hash"]
    assert status["observedGeneration"] == 1
    table = kubectl.out("get", "sts", "-n", ns, "-o", "wide").split("\n")
    assert table[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert table[1].split()[:2] == ["web", "3/3"] and table[1].split()[3:] == ["web", DEMO_IMAGE]
    out = kubectl.out("rollout", "status", "sts/web", "-n", ns, "--timeout=30s",
                      request_timeout=None)
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    history = kubectl.out("rollout", "history", "sts/web", "-n", ns)
    assert history.split("\n")[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert history.split("\n")[2].split()[0] == "1"


def test_deleted_pod_comes_back_under_its_name(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web(replicas=2, policy="Parallel"))
    before = wait_all_ready(kubectl, ns, {"web-0", "web-1"})
    kubectl.run("delete", "pod", "web-0", "-n", ns, "--wait=true", timeout=60,
                request_timeout=None)
    after = wait_all_ready(kubectl, ns, {"web-0", "web-1"})
    assert after["web-0"]["metadata"]["uid"] != before["web-0"]["metadata"]["uid"]
    assert after["web-1"]["metadata"]["uid"] == before["web-1"]["metadata"]["uid"]


def test_partitioned_rolling_update_and_rollout_status(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web(policy="Parallel"))
    first = wait_all_ready(kubectl, ns, {"web-0", "web-1", "web-2"})
    old = first["web-0"]["metadata"]["labels"]["controller-revision-hash"]
    kubectl.run("patch", "sts", "web", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}}))
    # The template changes (kubectl's strategic merge of a new env value).
    kubectl.run("set", "env", "sts/web", "-n", ns, "VERSION=2")
    out = kubectl.out("rollout", "status", "sts/web", "-n", ns, "--timeout=50s", timeout=55,
                      request_timeout=None)
    assert "Waiting for partitioned roll out to finish" in out or \
        "partitioned roll out complete: 2 new pods have been updated" in out
    assert out.rstrip().endswith("partitioned roll out complete: 2 new pods have been updated...")
    now = wait_all_ready(kubectl, ns, {"web-0", "web-1", "web-2"})
    revisions = {n: p["metadata"]["labels"]["controller-revision-hash"] for n, p in now.items()}
    sts = kubectl.json("get", "sts", "web", "-n", ns)
    new = sts["status"]["updateRevision"]
    assert new != old and revisions == {"web-0": old, "web-1": new, "web-2": new}
    assert now["web-0"]["metadata"]["uid"] == first["web-0"]["metadata"]["uid"]
    assert sts["status"]["currentRevision"] == old  # not every pod is updated
    # The highest went first: web-2 was re-created before web-1.
    assert now["web-2"]["metadata"]["creationTimestamp"] <= \
        now["web-1"]["metadata"]["creationTimestamp"]
    env = {e["name"]: e["value"] for e in now["web-1"]["spec"]["containers"][0]["env"]}
    assert env["VERSION"] == "2"
    revision_list = kubectl.out("get", "controllerrevisions", "-n", ns).split("\n")
    assert revision_list[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert sorted(line.split()[:3] for line in revision_list[1:] if line) == sorted(
        [[old, "statefulset.apps/web", "1"], [new, "statefulset.apps/web", "2"]])
    # Fields other than the mutable ones are refused, in the API server's words.
    refused = kubectl.run("patch", "sts", "web", "-n", ns, "--type=merge", "-p",
                          '{"spec": {"serviceName": "other"}}', check=False)
    assert refused.returncode != 0
    assert "updates to statefulset spec for fields other than 'replicas', 'ordinals', " \
           "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and " \
           "'minReadySeconds' are forbidden" in refused.stderr


def test_on_delete_updates_only_the_pods_deleted(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web(replicas=2, policy="Parallel").replace(
        "  serviceName: web\n", "  serviceName: web\n  updateStrategy: {type: OnDelete}\n"))
    first = wait_all_ready(kubectl, ns, {"web-0", "web-1"})
    kubectl.run("set", "env", "sts/web", "-n", ns, "VERSION=2")
    new = wait_for(lambda: (s := kubectl.json("get", "sts", "web", "-n", ns)["status"])
                   .get("observedGeneration") == 2 and s["updateRevision"], 20, 0.3, "observed")
    time.sleep(3)  # a rolling update would have started by now
    kept = pods(kubectl, ns)
    assert {n: p["metadata"]["uid"] for n, p in kept.items()} == {
        n: p["metadata"]["uid"] for n, p in first.items()}
    kubectl.run("delete", "pod", "web-1", "-n", ns, "--wait=true", timeout=60,
                request_timeout=None)
    now = wait_all_ready(kubectl, ns, {"web-0", "web-1"})
    assert now["web-1"]["metadata"]["labels"]["controller-revision-hash"] == new
    assert now["web-0"]["metadata"]["labels"]["controller-revision-hash"] != new
    assert now["web-0"]["metadata"]["uid"] == first["web-0"]["metadata"]["uid"]


def test_scale_down_removes_the_highest_pod_first(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web())
    wait_all_ready(kubectl, ns, {"web-0", "web-1", "web-2"})
    kubectl.run("scale", "sts", "web", "-n", ns, "--replicas=1")
    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        names = tuple(sorted(pods(kubectl, ns)))
        seen.append(names)
        if names == ("web-0",):
            break
        time.sleep(0.1)
    order = [s for s in dict.fromkeys(seen)]
    assert order[-1] == ("web-0",), order
    assert ("web-0", "web-2") not in order, order  # web-1 never went before web-2
    status = wait_for(lambda: (s := kubectl.json("get", "sts", "web", "-n", ns)["status"])
                      .get("replicas") == 1 and s, 20, 0.3, "replicas 1")
    assert status["readyReplicas"] == 1
    # A foreground delete returns once the pods are gone (web-0 takes ~2 s: TERM ignored).
    kubectl.run("patch", "sts", "web", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {
        "template": {"spec": {"terminationGracePeriodSeconds": 2, "containers": [{
            "name": "web", "image": DEMO_IMAGE, "command": ["sh", "-c", "trap '' TERM; "
                                                          "python3 /app/demo.py serve --port 8080"],
            "args": None}]}}}}))
    wait_for(lambda: (s := kubectl.json("get", "sts", "web", "-n", ns)["status"]).get(
        "updatedReplicas") == 1 and s.get("readyReplicas") == 1, 30, 0.3, "web-0 updated")
    kubectl.run("delete", "sts", "web", "-n", ns, "--cascade=foreground", timeout=60,
                request_timeout=None)
    assert kubectl.json("get", "pods", "-n", ns)["items"] == []


def test_orphaned_pods_are_adopted_by_a_new_set(kubectl: Kubectl, ns: str) -> None:
    """The way to change a field an update may not: delete the set keeping its pods, apply
    the new one; it adopts the pods (no restart) and manages them from then on."""
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web(replicas=2, policy="Parallel"))
    before = wait_all_ready(kubectl, ns, {"web-0", "web-1"})
    kubectl.run("delete", "sts", "web", "-n", ns, "--cascade=orphan")
    time.sleep(1)
    kept = pods(kubectl, ns)
    assert {n: p["metadata"]["uid"] for n, p in kept.items()} == {
        n: p["metadata"]["uid"] for n, p in before.items()}
    assert all(not p["metadata"].get("ownerReferences") for p in kept.values())
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=web(replicas=2))  # OrderedReady now
    uid = kubectl.json("get", "sts", "web", "-n", ns)["metadata"]["uid"]
    def owned() -> dict[str, Obj] | None:
        found = pods(kubectl, ns)
        return found if all((p["metadata"].get("ownerReferences") or [{}])[0].get("uid") == uid
                            for p in found.values()) else None
    adopted = wait_for(owned, 20, 0.3, "pods adopted")
    assert {n: p["metadata"]["uid"] for n, p in adopted.items()} == {
        n: p["metadata"]["uid"] for n, p in before.items()}
    kubectl.run("scale", "sts", "web", "-n", ns, "--replicas=1")
    wait_for(lambda: set(pods(kubectl, ns)) == {"web-0"}, 30, 0.3, "web-1 removed")


CLAIMS = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {{whenScaled: {when_scaled}, whenDeleted: {when_deleted}}}
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: db
        image: {image}
        args: ["serve", "--port", "8080"]
        volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 1Gi}}}}
"""


def claims(kubectl: Kubectl, namespace: str) -> dict[str, Obj]:
    items = kubectl.json("get", "pvc", "-n", namespace)["items"]
    return {c["metadata"]["name"]: c for c in items}


def test_claims_per_ordinal_kept_on_scale_down(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=CLAIMS.format(
        when_scaled="Retain", when_deleted="Retain", image=DEMO_IMAGE))
    made = wait_for(lambda: len(found := claims(kubectl, ns)) == 3 and found, 30, 0.3, "claims")
    assert set(made) == {"data-db-0", "data-db-1", "data-db-2"}
    for claim in made.values():
        assert claim["metadata"]["labels"] == {"app": "db"}
        assert not claim["metadata"].get("ownerReferences")  # Retain: nobody owns them
        assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    running = wait_for(lambda: len(found := pods(kubectl, ns, "db")) == 3 and found, 30, 0.3,
                       "db pods")
    for name, pod in running.items():
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"] == {"claimName": f"data-{name}"}
    kubectl.run("scale", "sts", "db", "-n", ns, "--replicas=1")
    wait_for(lambda: set(pods(kubectl, ns, "db")) == {"db-0"}, 30, 0.3, "scaled to 1")
    time.sleep(2)  # two syncs: nothing collects the claims of the removed pods
    assert set(claims(kubectl, ns)) == {"data-db-0", "data-db-1", "data-db-2"}
    # Deleting the set keeps its claims too (whenDeleted: Retain).
    kubectl.run("delete", "sts", "db", "-n", ns, "--wait=true", timeout=60,
                request_timeout=None)
    wait_for(lambda: not pods(kubectl, ns, "db"), 30, 0.3, "pods gone")
    time.sleep(2)
    assert set(claims(kubectl, ns)) == {"data-db-0", "data-db-1", "data-db-2"}


def test_retention_policy_delete_removes_claims(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=CLAIMS.format(
        when_scaled="Delete", when_deleted="Delete", image=DEMO_IMAGE))
    made = wait_for(lambda: len(found := claims(kubectl, ns)) == 3 and found, 30, 0.3, "claims")
    sts = kubectl.json("get", "sts", "db", "-n", ns)
    for claim in made.values():
        refs = claim["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"]) for r in refs] == [("StatefulSet", sts["metadata"]["uid"])]
    kubectl.run("scale", "sts", "db", "-n", ns, "--replicas=2")
    wait_for(lambda: set(claims(kubectl, ns)) == {"data-db-0", "data-db-1"}, 30, 0.3,
             "the scaled-away claim deleted")
    kubectl.run("delete", "sts", "db", "-n", ns)
    wait_for(lambda: not claims(kubectl, ns), 30, 0.3, "claims deleted with the set")


def test_up_wait_waits_for_the_set_and_the_cli_knows_it(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "web.yaml", web(replicas=2))
    started = time.monotonic()
    localsvc(env, "up", "-d", "--wait", "60", "-f", str(manifest), timeout=120)
    # Ordered: web-1 started only once web-0 was Ready (2 s initial delay each).
    assert time.monotonic() - started > 4
    listed = {p["metadata"]["name"]: p for p in env.get("pods")}
    assert set(listed) == {"web-0", "web-1"}
    assert all(ready(p) for p in listed.values())
    status = env.get("statefulsets", "web")[0]["status"]
    assert status["readyReplicas"] == 2 and status["observedGeneration"] == 1
    table = localsvc(env, "get", "sts").stdout.split("\n")
    assert table[0].split() == ["NAME", "READY", "AGE"] and table[1].split()[:2] == ["web", "2/2"]
    assert "statefulset.apps/web" in localsvc(env, "get", "all").stdout
    assert localsvc(env, "scale", "sts/web", "--replicas", "1").stdout.strip() == \
        "statefulset.apps/web scaled"
    wait_for(lambda: {p["metadata"]["name"] for p in env.get("pods")} == {"web-0"}, 30, 0.3,
             "web-1 removed")
    logs = localsvc(env, "logs", "sts/web", "--tail", "5").stdout
    assert "GET / HTTP/1.1" in logs  # the readiness probe's requests, served by web-0
    # A node restart adopts the pod and finds the set's revisions and status again.
    before = env.get("statefulsets", "web")[0]
    uid = env.get("pods", "web-0")[0]["metadata"]["uid"]
    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(30)
    assert env.get("pods", "web-0")[0]["metadata"]["uid"] == uid
    after = env.get("statefulsets", "web")[0]
    assert after["status"]["currentRevision"] == before["status"]["currentRevision"]
    assert [r["metadata"]["name"] for r in env.get("controllerrevisions")] == [
        before["status"]["currentRevision"]]


def test_explain_statefulset_fields(kubectl: Kubectl) -> None:
    out = kubectl.out("explain", "statefulset.spec.persistentVolumeClaimRetentionPolicy")
    assert "whenDeleted" in out and "whenScaled" in out
