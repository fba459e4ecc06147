"""A Deployment's ReplicaSets as pure rules: revision numbering, reuse on undo, pruning, the
ReplicaSet object, and the persisted history (old state files still load)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from localsvc.model import replicasets as rs
from localsvc.node.store import DeploymentHistory, State, StateFileError, Store, parse_state

Obj = dict[str, Any]


def template(image: str) -> Obj:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def deployment(**spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "dep-uid", "generation": 3,
                         "annotations": {"kubernetes.io/change-cause": "v2",
                                         "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": template("img:1"), **spec}}


def uids() -> Any:
    counter = itertools.count(1)
    return lambda: f"uid-{next(counter)}"


def roll(revisions: list[rs.Revision], hash_: str, new_uid: Any) -> tuple[list[rs.Revision], str]:
    return rs.record_revision(revisions, hash_, template(hash_), {}, new_uid, "T")


def by_hash(revisions: list[rs.Revision]) -> dict[str, int]:
    return {r.hash: r.revision for r in revisions}


def test_each_new_template_gets_the_next_revision() -> None:
    new_uid = uids()
    revisions, outcome = roll([], "aaa", new_uid)
    assert outcome == "created" and by_hash(revisions) == {"aaa": 1}
    revisions, outcome = roll(revisions, "bbb", new_uid)
    assert outcome == "created" and by_hash(revisions) == {"aaa": 1, "bbb": 2}
    assert [r.uid for r in revisions] == ["uid-1", "uid-2"]


def test_the_current_template_again_changes_nothing_but_copied_annotations() -> None:
    revisions, _ = roll([], "aaa", uids())
    again, outcome = rs.record_revision(revisions, "aaa", template("aaa"),
                                        {"kubernetes.io/change-cause": "x"}, uids(), "T2")
    assert outcome == "found"
    assert again[0].revision == 1 and again[0].uid == revisions[0].uid
    assert again[0].annotations == {"kubernetes.io/change-cause": "x"}


def test_undo_reuses_the_old_replicaset_at_a_new_revision_and_remembers_its_old_one() -> None:
    new_uid = uids()
    revisions, _ = roll([], "aaa", new_uid)
    revisions, _ = roll(revisions, "bbb", new_uid)
    revisions, outcome = roll(revisions, "aaa", new_uid)
    assert outcome == "reused"
    assert by_hash(revisions) == {"aaa": 3, "bbb": 2}
    reused = next(r for r in revisions if r.hash == "aaa")
    assert reused.uid == "uid-1" and reused.history == (1,)
    revisions, _ = roll(revisions, "bbb", new_uid)
    revisions, _ = roll(revisions, "aaa", new_uid)
    assert by_hash(revisions) == {"aaa": 5, "bbb": 4}
    assert next(r for r in revisions if r.hash == "aaa").history == (1, 3)


def test_pruning_keeps_the_limit_of_idle_old_replicasets_newest_first() -> None:
    new_uid = uids()
    revisions: list[rs.Revision] = []
    for hash_ in ("a", "b", "c", "d", "e"):
        revisions, _ = roll(revisions, hash_, new_uid)
    kept = rs.prune(revisions, current_hash="e", running=set(), limit=2)
    assert by_hash(kept) == {"c": 3, "d": 4, "e": 5}
    # An old ReplicaSet that still runs pods is never pruned, nor the current one.
    kept = rs.prune(revisions, current_hash="e", running={"a"}, limit=0)
    assert by_hash(kept) == {"a": 1, "e": 5}


def test_history_limit_defaults_to_ten() -> None:
    assert rs.history_limit({}) == 10
    assert rs.history_limit({"revisionHistoryLimit": 0}) == 0
    assert rs.history_limit({"revisionHistoryLimit": 3}) == 3


def test_pods_of_a_state_of_before_revisions_are_recovered_with_their_uids() -> None:
    running = {"old": ("uid-of-old-pods", template("img:0")), "cur": ("", template("img:1"))}
    revisions, outcome = rs.track_revisions([], "cur", template("img:1"), {}, running,
                                            lambda: "fresh", "T")
    assert outcome == "created"
    assert by_hash(revisions) == {"old": 1, "cur": 2}
    assert {r.hash: r.uid for r in revisions} == {"old": "uid-of-old-pods", "cur": "fresh"}


def test_the_replicaset_object_is_what_kubectl_reads() -> None:
    new_uid = uids()
    revisions, _ = roll([], "aaa", new_uid)
    revisions, _ = roll(revisions, "bbb", new_uid)
    revisions, _ = roll(revisions, "aaa", new_uid)
    revisions, _ = rs.record_revision(revisions, "aaa", template("aaa"),
                                      rs.copied_annotations(deployment()), new_uid, "T")
    rev = next(r for r in revisions if r.hash == "aaa")
    obj = rs.replicaset_object(deployment(), rev, rs.PodCounts(3, 2, 1), 4)
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "ReplicaSet"
    meta = obj["metadata"]
    assert meta["name"] == "web-aaa" and meta["namespace"] == "default"
    assert meta["uid"] == "uid-1"
    assert meta["labels"] == {"app": "web", "pod-template-hash": "aaa"}
    assert meta["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "dep-uid",
        "controller": True, "blockOwnerDeletion": True}]
    assert meta["annotations"] == {
        "kubernetes.io/change-cause": "v2",
        "deployment.kubernetes.io/revision": "3",
        "deployment.kubernetes.io/revision-history": "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",  # 3 + 25% surge rounded up
    }
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": "aaa"}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {"app": "web",
                                                             "pod-template-hash": "aaa"}
    assert obj["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
                             "availableReplicas": 1, "observedGeneration": 4}


def test_recreate_has_no_surge_and_both_zero_means_one_unavailable() -> None:
    assert rs.surge_and_unavailable({"replicas": 4, "strategy": {"type": "Recreate"}}) == (0, 0)
    assert rs.surge_and_unavailable({"replicas": 4}) == (1, 1)
    assert rs.surge_and_unavailable({"replicas": 4, "strategy": {"rollingUpdate": {
        "maxSurge": 0, "maxUnavailable": 0}}}) == (0, 1)
    assert rs.surge_and_unavailable({"replicas": 10, "strategy": {"rollingUpdate": {
        "maxSurge": "30%", "maxUnavailable": "30%"}}}) == (3, 3)


def test_a_replicaset_copies_the_deployments_own_annotations_only() -> None:
    obj = deployment()
    obj["metadata"]["annotations"].update({
        "deployment.kubernetes.io/revision": "4", "deprecated.deployment.rollback.to": "1",
        "deployment.kubernetes.io/desired-replicas": "3", "team": "a"})
    assert rs.copied_annotations(obj) == {"kubernetes.io/change-cause": "v2", "team": "a"}


def test_pod_owner_reference_names_the_replicaset_and_its_uid() -> None:
    assert rs.pod_owner_reference("web", "aaa", "u") == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-aaa", "uid": "u",
        "controller": True, "blockOwnerDeletion": True}


def test_history_round_trips_through_the_state_file() -> None:
    revisions, _ = roll([], "aaa", uids())
    revisions, _ = roll(revisions, "bbb", uids())
    history = DeploymentHistory(revisions, {"observedGeneration": 2})
    state = State(deployments={"Deployment/default/web": history})
    text = json.dumps({"deployments": {k: v.to_json() for k, v in state.deployments.items()}})
    assert parse_state(text).deployments == state.deployments


def test_a_state_file_of_before_revisions_loads_with_no_history() -> None:
    assert parse_state(json.dumps({"objects": {}, "pods": {}})).deployments == {}


def test_an_unreadable_history_is_a_state_file_error_naming_it() -> None:
    with pytest.raises(StateFileError, match=r'deployments\["Deployment/default/web"\]'):
        parse_state(json.dumps({"deployments": {"Deployment/default/web": {
            "revisions": [{"hash": "a"}]}}}))


def test_an_apply_saves_the_deployment_histories_with_the_objects(tmp_path: Path) -> None:
    """An apply writes the whole State: the Deployment histories must survive that write (else a
    node restart renumbers revisions and gives ReplicaSets new uids)."""
    from tests.unit.node_builders import controller, manifests, service

    node = controller(tmp_path)
    labels = {"app": "web"}
    node.apply(manifests({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "web", "namespace": "default"},
                          "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                                   "template": {"metadata": {"labels": labels}, "spec": {
                                       "containers": [{"name": "c", "image": "i"}]}}}}),
               prune=False)
    assert list(node.state.deployments) == ["Deployment/default/web"]  # the sync's revision
    node.apply(manifests(service("web")), prune=False)  # stages and saves a new State
    assert Store(tmp_path).load().deployments == node.state.deployments


def test_pods_are_counted_per_hash_and_available_after_min_ready_seconds() -> None:
    pods = [("a", "p1", True), ("a", "p2", False), ("b", "p3", True)]
    counts, since = rs.count_pods(pods, {}, 10, now=100.0)
    assert counts == {"a": rs.PodCounts(2, 1, 0), "b": rs.PodCounts(1, 1, 0)}
    assert since == {"p1": 100.0, "p3": 100.0}
    counts, since = rs.count_pods(pods, since, 10, now=109.0)
    assert counts["a"] == rs.PodCounts(2, 1, 0)
    counts, since = rs.count_pods(pods, since, 10, now=110.0)
    assert counts == {"a": rs.PodCounts(2, 1, 1), "b": rs.PodCounts(1, 1, 1)}
    # A pod that goes unready starts over when it is ready again.
    counts, since = rs.count_pods([("a", "p1", False)], since, 10, now=111.0)
    assert since == {}
    counts, _ = rs.count_pods([("a", "p1", True)], since, 10, now=112.0)
    assert counts["a"] == rs.PodCounts(1, 1, 0)
    # No minReadySeconds: ready is available.
    assert rs.count_pods(pods, {}, 0, now=1.0)[0]["a"] == rs.PodCounts(2, 1, 1)
