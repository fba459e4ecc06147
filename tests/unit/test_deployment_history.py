"""A Deployment's status through a rollout, sync by sync (model/views.rollout_status, as the
deployment controller's syncRolloutStatus), read the way `kubectl rollout status` reads it; and
the pods' ownerReferences to their ReplicaSet."""

from __future__ import annotations

from typing import Any

from localsvc.model import deployments as dep
from localsvc.model.clock import rfc3339_seconds
from localsvc.model.replicasets import PodCounts
from localsvc.model.views import rollout_status
from localsvc.node.podrecords import deployment_pod, owner_uid, with_owner_uid

Obj = dict[str, Any]
T0 = 1_700_000_000.0


def deployment(replicas: int = 3, generation: int = 1, **spec: Any) -> Obj:
    return {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default",
                                               "generation": generation},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}},
                     **spec}}


def kubectl_says(obj: Obj, status: Obj) -> str:
    """kubectl's DeploymentStatusViewer.Status (polymorphichelpers/rollout_status.go)."""
    name = obj["metadata"]["name"]
    if obj["metadata"]["generation"] > status["observedGeneration"]:
        return "Waiting for deployment spec update to be observed..."
    progressing = condition(status, "Progressing")
    if progressing and progressing["reason"] == "ProgressDeadlineExceeded":
        return f'error: deployment "{name}" exceeded its progress deadline'
    replicas = obj["spec"]["replicas"]
    if status["updatedReplicas"] < replicas:
        return (f'Waiting for deployment "{name}" rollout to finish: '
                f'{status["updatedReplicas"]} out of {replicas} new replicas have been updated...')
    if status["replicas"] > status["updatedReplicas"]:
        return (f'Waiting for deployment "{name}" rollout to finish: '
                f'{status["replicas"] - status["updatedReplicas"]} old replicas are pending '
                "termination...")
    if status["availableReplicas"] < status["updatedReplicas"]:
        return (f'Waiting for deployment "{name}" rollout to finish: '
                f'{status["availableReplicas"]} of {status["updatedReplicas"]} updated replicas '
                "are available...")
    return f'deployment "{name}" successfully rolled out'


def condition(status: Obj, type_: str) -> Obj:
    return next((c for c in status["conditions"] if c["type"] == type_), {})


def reasons(status: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def step(obj: Obj, previous: Obj | None, new: tuple[int, int, int], old: tuple[int, int, int],
         now: float, created: bool = False) -> Obj:
    return rollout_status(obj, "web-abc", PodCounts(*new), PodCounts(*old), previous, created,
                          now)


def test_a_new_deployment_rolls_out_sync_by_sync() -> None:
    obj = deployment()
    first = step(obj, None, (3, 0, 0), (0, 0, 0), T0, created=True)
    assert reasons(first) == {"Progressing": ("True", "NewReplicaSetCreated"),
                              "Available": ("False", "MinimumReplicasUnavailable")}
    assert condition(first, "Progressing")["message"] == 'Created new replica set "web-abc"'
    # The ReplicaSet was created this sync: its pods are counted from the next one.
    assert (first["replicas"], first["updatedReplicas"], first["observedGeneration"]) == (0, 0, 1)
    assert kubectl_says(obj, first).endswith("0 out of 3 new replicas have been updated...")

    second = step(obj, first, (3, 2, 2), (0, 0, 0), T0 + 5)
    assert reasons(second)["Progressing"] == ("True", "ReplicaSetUpdated")
    # 3 replicas, maxUnavailable 25% rounded down: none may be unavailable.
    assert reasons(second)["Available"] == ("False", "MinimumReplicasUnavailable")
    progressing = condition(second, "Progressing")
    assert progressing["lastTransitionTime"] == condition(first, "Progressing")[
        "lastTransitionTime"]  # still True: the transition stays
    assert rfc3339_seconds(progressing["lastUpdateTime"]) == T0 + 5
    assert kubectl_says(obj, second).endswith("2 of 3 updated replicas are available...")

    done = step(obj, second, (3, 3, 3), (0, 0, 0), T0 + 7)
    assert reasons(done) == {"Available": ("True", "MinimumReplicasAvailable"),
                             "Progressing": ("True", "NewReplicaSetAvailable")}
    assert condition(done, "Progressing")["message"] == \
        'ReplicaSet "web-abc" has successfully progressed.'
    assert kubectl_says(obj, done) == 'deployment "web" successfully rolled out'
    # Nothing moves: the same status, times and all (no churn of watch events).
    assert step(obj, done, (3, 3, 3), (0, 0, 0), T0 + 60) == done


def test_a_rolling_update_waits_for_old_pods_then_completes() -> None:
    obj = deployment(generation=1)
    done = step(obj, None, (3, 3, 3), (0, 0, 0), T0, created=True)
    done = step(obj, done, (3, 3, 3), (0, 0, 0), T0)
    changed = deployment(generation=2)
    assert kubectl_says(changed, done) == "Waiting for deployment spec update to be observed..."
    started = step(changed, done, (1, 0, 0), (3, 3, 3), T0 + 10, created=True)
    assert reasons(started)["Progressing"] == ("True", "NewReplicaSetCreated")
    assert started["observedGeneration"] == 2
    assert kubectl_says(changed, started).endswith("0 out of 3 new replicas have been updated...")
    started = step(changed, started, (1, 0, 0), (3, 3, 3), T0 + 11)
    assert reasons(started)["Progressing"] == ("True", "ReplicaSetUpdated")
    assert kubectl_says(changed, started).endswith("1 out of 3 new replicas have been updated...")
    middle = step(changed, started, (3, 3, 3), (1, 1, 1), T0 + 20)
    assert reasons(middle)["Progressing"] == ("True", "ReplicaSetUpdated")
    assert kubectl_says(changed, middle).endswith("1 old replicas are pending termination...")
    finished = step(changed, middle, (3, 3, 3), (0, 0, 0), T0 + 25)
    assert reasons(finished)["Progressing"] == ("True", "NewReplicaSetAvailable")
    assert kubectl_says(changed, finished) == 'deployment "web" successfully rolled out'


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded() -> None:
    obj = deployment(progressDeadlineSeconds=30)
    first = step(obj, None, (3, 0, 0), (0, 0, 0), T0, created=True)
    assert reasons(first)["Progressing"] == ("True", "NewReplicaSetCreated")
    pods_made = step(obj, first, (3, 0, 0), (0, 0, 0), T0 + 1)  # updated 0 -> 3: progress
    assert reasons(pods_made)["Progressing"] == ("True", "ReplicaSetUpdated")
    waiting = step(obj, pods_made, (3, 0, 0), (0, 0, 0), T0 + 30)
    assert waiting == pods_made  # no progress, not yet 30 s since the last
    late = step(obj, waiting, (3, 0, 0), (0, 0, 0), T0 + 32)
    assert reasons(late)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert condition(late, "Progressing")["message"] == \
        'ReplicaSet "web-abc" has timed out progressing.'
    assert kubectl_says(obj, late) == 'error: deployment "web" exceeded its progress deadline'
    # Progress afterwards makes it progress again (True, a new transition).
    again = step(obj, late, (3, 1, 1), (0, 0, 0), T0 + 40)
    assert reasons(again)["Progressing"] == ("True", "ReplicaSetUpdated")
    assert rfc3339_seconds(condition(again, "Progressing")["lastTransitionTime"]) == T0 + 40


def test_a_completed_rollout_never_times_out() -> None:
    obj = deployment(progressDeadlineSeconds=10)
    done = step(obj, None, (3, 3, 3), (0, 0, 0), T0, created=True)
    done = step(obj, done, (3, 3, 3), (0, 0, 0), T0 + 1)
    later = step(obj, done, (3, 2, 2), (0, 0, 0), T0 + 100)  # a pod went unready
    assert reasons(later)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_available_is_at_least_replicas_minus_max_unavailable() -> None:
    obj = deployment(replicas=4)  # 25%: 1 may be unavailable
    assert reasons(step(obj, None, (4, 3, 3), (0, 0, 0), T0))["Available"][0] == "True"
    assert reasons(step(obj, None, (4, 2, 2), (0, 0, 0), T0))["Available"][0] == "False"
    recreate = deployment(replicas=4, strategy={"type": "Recreate"})
    assert reasons(step(recreate, None, (4, 3, 3), (0, 0, 0), T0))["Available"][0] == "False"


def test_ready_but_not_yet_available_pods_count_ready_only() -> None:
    status = step(deployment(), None, (3, 3, 1), (0, 0, 0), T0)
    assert (status["readyReplicas"], status["availableReplicas"],
            status["unavailableReplicas"]) == (3, 1, 2)


def test_an_existing_replicaset_without_a_progressing_condition_is_found() -> None:
    status = step(deployment(), None, (3, 3, 3), (0, 0, 0), T0)
    assert condition(status, "Progressing")["message"] in (
        'Found new replica set "web-abc"', 'ReplicaSet "web-abc" has successfully progressed.')
    assert reasons(status)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_no_deadline_means_no_progressing_condition() -> None:
    status = step(deployment(progressDeadlineSeconds=2**31 - 1), None, (3, 0, 0), (0, 0, 0), T0,
                  created=True)
    assert list(reasons(status)) == ["Available"]


def test_a_restart_annotation_is_a_new_template_hash() -> None:
    """`kubectl rollout restart` patches restartedAt into the template: a new revision."""
    template = deployment()["spec"]["template"]
    restarted = {**template, "metadata": {**template["metadata"], "annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}
    assert dep.template_hash(restarted) != dep.template_hash(template)


def test_a_new_pod_is_owned_by_its_replicaset_uid_and_old_pods_get_it() -> None:
    obj = deployment()
    record = deployment_pod(obj, "Deployment/default/web", "abc", set(), "rs-uid")
    (owner,) = record.obj["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                     "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}
    assert record.obj["metadata"]["labels"]["pod-template-hash"] == "abc"
    older = deployment_pod(obj, "Deployment/default/web", "abc", set())
    assert owner_uid(older) == ""
    fixed = with_owner_uid(older, "rs-uid")
    assert fixed["metadata"]["ownerReferences"] == [owner]
    assert fixed is not older.obj and owner_uid(older) == ""  # the stored object is unchanged


# ---- what kubectl itself reads: the real kubectl against these documents on loopback --------

def _kubectl_documents() -> dict[str, Obj]:
    """A Deployment at revision 3 (template of revision 1 reused) and its two ReplicaSets,
    rendered by the node's own functions, with just enough discovery for kubectl."""
    from localsvc.model import replicasets as rs

    obj = deployment(generation=3)
    obj["apiVersion"] = "apps/v1"
    obj["metadata"].update(uid="dep-uid", annotations={
        rs.REVISION: "3", "kubernetes.io/change-cause": "back to one"})
    v1 = obj["spec"]["template"]
    v2 = {**v1, "spec": {"containers": [{"name": "c", "image": "i:2"}]}}
    revisions: list[rs.Revision] = []
    for hash_, template, cause in (("h1", v1, "one"), ("h2", v2, "two"), ("h1", v1, "back")):
        revisions, _ = rs.record_revision(revisions, hash_, template,
                                          {"kubernetes.io/change-cause": cause}, lambda: hash_,
                                          "2026-01-01T00:00:00Z")
    counts = {"h1": PodCounts(3, 3, 3), "h2": PodCounts()}
    sets = [rs.replicaset_object(obj, r, counts[r.hash], 1) for r in revisions]
    status = rollout_status(obj, "web-h1", PodCounts(3, 3, 3), PodCounts(), None, False, T0)
    obj["status"] = status
    apps = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
            "resources": [
                {"name": n, "singularName": n[:-1], "namespaced": True, "kind": k,
                 "verbs": ["get", "list", "patch", "update", "watch"],
                 **({"shortNames": ["deploy"]} if k == "Deployment" else {})}
                for n, k in (("deployments", "Deployment"), ("replicasets", "ReplicaSet"))]}
    return {
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
            "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
        "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
        "/apis/apps/v1": apps,
        "/apis/apps/v1/namespaces/default/deployments/web": obj,
        "/apis/apps/v1/namespaces/default/deployments": {  # rollout status lists by name
            "kind": "DeploymentList", "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": "7"}, "items": [obj]},
        "/apis/apps/v1/namespaces/default/replicasets": {
            "kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {}, "items": sets},
    }


def _serve(documents: dict[str, Obj], patches: list[tuple[str, str, Any]] | None = None,
           ) -> tuple[Any, int]:
    """Serve `documents` by path on loopback; each PATCH is recorded in `patches` (path,
    content type, body) and answered with the document."""
    import http.server
    import json as json_
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length") or 0)
            if patches is not None:
                patches.append((self.path.split("?", 1)[0], self.headers["Content-Type"],
                                json_.loads(self.rfile.read(length))))
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = documents.get(self.path.split("?", 1)[0])
            data = json_.dumps(body if body is not None else {
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "reason": "NotFound", "code": 404}).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _kubectl(port: int, tmp: Any, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        ["kubectl", f"--server=http://127.0.0.1:{port}", "--request-timeout=10s",
         f"--cache-dir={tmp}", "-n", "default", *args],
        capture_output=True, text=True, timeout=20, env={"HOME": str(tmp), "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kubectl_reads_history_status_and_the_template_undo_writes(tmp_path: Any) -> None:
    patches: list[tuple[str, str, Any]] = []
    server, port = _serve(_kubectl_documents(), patches)
    try:
        history = _kubectl(port, tmp_path, "rollout", "history", "deployment/web")
        rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
        assert rows == [["2", "two"], ["3", "back"]]
        detail = _kubectl(port, tmp_path, "rollout", "history", "deployment/web",
                          "--revision=2")
        assert "i:2" in detail and "pod-template-hash=h2" in detail
        status = _kubectl(port, tmp_path, "rollout", "status", "deployment/web",
                          "--watch=false")
        assert status.strip() == 'deployment "web" successfully rolled out'
        undo = _kubectl(port, tmp_path, "rollout", "undo", "deployment/web")
        assert undo.strip() == "deployment.apps/web rolled back"
        ((path, content_type, patch),) = patches
        assert path == "/apis/apps/v1/namespaces/default/deployments/web"
        assert content_type == "application/json-patch+json"
        # The template of revision 2, without its pod-template-hash label, and its
        # annotations (change-cause) back on the Deployment.
        by_path = {op["path"]: op["value"] for op in patch if op["op"] == "replace"}
        assert by_path["/spec/template"]["metadata"]["labels"] == {"app": "web"}
        assert by_path["/spec/template"]["spec"]["containers"][0]["image"] == "i:2"
        assert by_path["/metadata/annotations"]["kubernetes.io/change-cause"] == "two"
        # Regression: kubectl writes the template back with creationTimestamp: null and
        # resources: {}; it must hash as revision 2's (reused), not as a new template.
        v2 = _kubectl_documents()["/apis/apps/v1/namespaces/default/replicasets"]["items"][1]
        written = by_path["/spec/template"]
        assert written["metadata"]["creationTimestamp"] is None
        labels = dict(v2["spec"]["template"]["metadata"]["labels"])
        del labels["pod-template-hash"]
        original = {**v2["spec"]["template"], "metadata": {"labels": labels}}
        assert dep.template_hash(written) == dep.template_hash(original)
    finally:
        server.shutdown()
