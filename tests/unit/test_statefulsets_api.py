"""StatefulSets through the API side: validation (and the refused update, in the API server's
words), kubectl's columns, when `up --wait` calls one ready, and the node's controller storing
revisions and claims (no pods: replicas 0, or no Docker call is made)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import pytest

from localsvc.errors import ManifestError
from localsvc.host.readiness import statefulset_ready, workloads_summary
from localsvc.model.kubeapi.tables import table
from localsvc.model.load import load_text
from localsvc.model.validate import validate
from localsvc.model.validate.statefulsets import FORBIDDEN_UPDATE
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
TEMPLATE = """\
selector: {matchLabels: {app: db}}
template:
  metadata: {labels: {app: db}}
  spec:
    containers:
    - name: db
      image: postgres
      volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
volumeClaimTemplates:
- metadata: {name: data}
  spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def sts(spec: str) -> str:
    """A StatefulSet named db whose spec is `spec` (spec starts on line 5)."""
    return "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n" + indent(
        dedent(spec), "  ")


def problems(text: str) -> list[str]:
    loaded = load_text(text, "t.yaml")
    assert loaded.skipped == [] and loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


def test_a_realistic_statefulset_is_valid() -> None:
    assert problems(sts("serviceName: db\nreplicas: 3\npodManagementPolicy: Parallel\n"
                        "updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}\n"
                        "persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete}\n"
                        + TEMPLATE)) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ("serviceName: Db_1\n" + TEMPLATE, "t.yaml:5: StatefulSet/db: spec.serviceName: "),
    ("podManagementPolicy: Ordered\n" + TEMPLATE,
     "t.yaml:5: StatefulSet/db: spec.podManagementPolicy: "),
    ("updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}\n" + TEMPLATE,
     "t.yaml:5: StatefulSet/db: spec.updateStrategy.rollingUpdate: only allowed for "
     "updateStrategy 'RollingUpdate'"),
    ("updateStrategy: {rollingUpdate: {partition: -1}}\n" + TEMPLATE,
     "t.yaml:5: StatefulSet/db: spec.updateStrategy.rollingUpdate.partition: "),
    ("persistentVolumeClaimRetentionPolicy: {whenScaled: Keep}\n" + TEMPLATE,
     "t.yaml:5: StatefulSet/db: spec.persistentVolumeClaimRetentionPolicy.whenScaled: "),
    ("selector: {matchLabels: {app: other}}\n" + TEMPLATE.split("\n", 1)[1],
     "t.yaml:7: StatefulSet/db: spec.template.metadata.labels: `selector` does not match "
     "template `labels`"),
    (TEMPLATE.replace("  spec:\n    containers", "  spec:\n    restartPolicy: Never\n    containers"),
     "must be \"Always\" for a StatefulSet"),
])
def test_bad_statefulsets(spec: str, expected: str) -> None:
    found = problems(sts(spec))
    assert found and any(expected in p for p in found), found


def test_mounts_may_name_the_claim_templates_only() -> None:
    assert problems(sts(TEMPLATE)) == []
    without = TEMPLATE.split("volumeClaimTemplates:")[0]
    assert any("volumeMounts[0].name" in p for p in problems(sts(without)))


def test_duplicate_claim_template_names() -> None:
    twice = TEMPLATE + "- metadata: {name: data}\n  spec: {}\n"
    assert any("duplicate volumeClaimTemplate name" in p for p in problems(sts(twice)))


def statefulset(replicas: int = 0, service: str = "db", image: str = "postgres") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": replicas, "serviceName": service,
                     "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": image}]}}}}


def test_updates_of_fixed_fields_are_refused_in_the_api_servers_words(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(statefulset()), prune=False)
    stored = node.state.objects["StatefulSet/default/db"]
    with pytest.raises(ManifestError) as refused:
        node.apply(manifests(statefulset(service="other")), prune=False)
    assert [(p.path, p.message) for p in refused.value.problems] == [("spec", FORBIDDEN_UPDATE)]
    assert FORBIDDEN_UPDATE == (
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
        "forbidden")
    assert node.state.objects["StatefulSet/default/db"] is stored  # nothing changed
    node.apply(manifests(statefulset(image="postgres:17")), prune=False)  # the template may
    assert node.state.objects["StatefulSet/default/db"]["metadata"]["generation"] == 2


def test_revisions_are_stored_and_collected_with_their_set(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(statefulset()), prune=False)
    node.sync()
    revisions = node.state.objects_of("ControllerRevision")
    assert [r["revision"] for r in revisions] == [1]
    status = node.workload_statuses["StatefulSet/default/db"]
    assert status["currentRevision"] == status["updateRevision"] == \
        revisions[0]["metadata"]["name"]
    node.apply(manifests(statefulset(image="postgres:17")), prune=False)
    node.sync()
    assert sorted(r["revision"] for r in node.state.objects_of("ControllerRevision")) == [1, 2]
    # The status is published with the set (what kubectl rollout status reads).
    shown = node.list_objects("StatefulSet", "default")[0]
    assert shown["status"]["updateRevision"] != revisions[0]["metadata"]["name"]
    assert shown["status"]["observedGeneration"] == 2
    node.delete(["StatefulSet/default/db"])
    node.sync()
    assert node.state.objects_of("ControllerRevision") == []


def test_pending_sets_stay_the_ones_the_steps_hold(tmp_path: Path) -> None:
    """Regression: `pending &= keys()` rebound a new set, and the WorkloadStep kept resyncing
    the old one (clock-driven rollouts were moved only by the 30 s resync)."""
    node = controller(tmp_path)
    node.sync()
    node.sync()
    steps = {s.kind: s for s in node.workload_steps}
    assert steps["StatefulSet"].pending is node.statefulsets_pending
    assert steps["Deployment"].pending is node.rollouts_pending


def test_kubectl_columns() -> None:
    obj = {"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
           "spec": {"replicas": 3, "template": {"spec": {"containers": [
               {"name": "web", "image": "nginx"}]}}},
           "status": {"readyReplicas": 2}}
    built = table("StatefulSet", [obj], time.time())
    assert [(c["name"], c["priority"]) for c in built["columnDefinitions"]] == [
        ("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)]
    cells = built["rows"][0]["cells"]
    assert cells[:2] == ["web", "2/3"] and cells[3:] == ["web", "nginx"]
    revision = {"metadata": {"name": "web-abc", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]},
        "revision": 2}
    assert table("ControllerRevision", [revision], time.time())["rows"][0]["cells"][:3] == [
        "web-abc", "statefulset.apps/web", 2]


def ready_set(**status: int) -> Obj:
    return {"metadata": {"name": "db", "generation": 2},
            "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate",
                                                       "rollingUpdate": {"partition": 1}}},
            "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2,
                       "updatedReplicas": 1, **status}}


def test_when_up_wait_calls_a_statefulset_ready() -> None:
    assert statefulset_ready(ready_set())
    assert not statefulset_ready(ready_set(observedGeneration=1))
    assert not statefulset_ready(ready_set(readyReplicas=1))
    assert not statefulset_ready(ready_set(updatedReplicas=0))  # below the partition's count
    on_delete = copy.deepcopy(ready_set(updatedReplicas=0))
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert statefulset_ready(on_delete)
    waiting = {"kind": "StatefulSet", **ready_set(readyReplicas=0)}
    assert workloads_summary([{"kind": "Deployment", "metadata": {"name": "web"}}, waiting]) == \
        "waiting for deployments: web; statefulsets: db"


def test_a_rebuilt_image_rolls_the_statefulsets_that_run_it(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(statefulset(), statefulset_named("other", "redis")), prune=False)
    node.sync()
    results = node.restart_image("postgres")
    assert [(r["kind"], r["name"], r["action"]) for r in results] == [
        ("StatefulSet", "db", "restarted")]
    node.sync()
    revisions = sorted(node.state.objects_of("ControllerRevision"),
                       key=lambda r: (r["metadata"]["name"].startswith("other"), r["revision"]))
    assert [r["revision"] for r in revisions] == [1, 2, 1]
    annotations = revisions[1]["data"]["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    status = node.workload_statuses["StatefulSet/default/db"]
    assert status["updateRevision"] == revisions[1]["metadata"]["name"]


def statefulset_named(name: str, image: str) -> Obj:
    obj = statefulset(image=image)
    obj["metadata"]["name"] = name
    return obj


def test_strict_lists_what_a_statefulset_does_not_act_on() -> None:
    from localsvc.model.ignored import ignored_fields

    text = sts("serviceName: db\nupdateStrategy: {rollingUpdate: {partition: 1, "
               "maxUnavailable: 2}}\npersistentVolumeClaimRetentionPolicy: {whenDeleted: "
               "Delete}\nordinals: {start: 1}\n" + TEMPLATE)
    (manifest,) = load_text(text, "t.yaml").manifests
    assert ignored_fields(manifest) == ["spec.updateStrategy.rollingUpdate.maxUnavailable"]
