"""The StatefulSet controller's pure rules (model/statefulsets.py)."""

from __future__ import annotations

from localsvc.model import statefulsets as sts
from localsvc.model.statefulsets import SetPod, SetSpec, Step, plan_step

OLD, NEW = "web-old", "web-new"


def healthy(revision: str = NEW) -> SetPod:
    return SetPod(revision, ready=True, available=True)


def starting(revision: str = NEW) -> SetPod:
    return SetPod(revision)


def test_names_and_ordinals() -> None:
    assert sts.pod_name("web", 0) == "web-0"
    assert sts.ordinal_of("web", "web-12") == 12
    assert sts.ordinal_of("web", "web-a") is None
    assert sts.ordinal_of("web", "webx-1") is None
    assert sts.ordinal_of("my-web", "my-web-3") == 3
    assert sts.ordinal_of("web", "my-web-3") is None
    assert sts.claim_name("data", "web", 2) == "data-web-2"


def test_ordered_ready_creates_one_pod_at_a_time_in_order() -> None:
    spec = SetSpec(replicas=3)
    assert plan_step(spec, {}, NEW, NEW) == Step(create=((0, NEW),))
    # web-0 exists but is not Ready: web-1 waits.
    assert plan_step(spec, {0: starting()}, NEW, NEW) == Step()
    # Ready but not yet available (minReadySeconds): still waits.
    assert plan_step(spec, {0: SetPod(NEW, ready=True)}, NEW, NEW) == Step()
    assert plan_step(spec, {0: healthy()}, NEW, NEW) == Step(create=((1, NEW),))
    assert plan_step(spec, {0: healthy(), 1: healthy()}, NEW, NEW) == Step(create=((2, NEW),))
    assert plan_step(spec, {0: healthy(), 1: healthy(), 2: healthy()}, NEW, NEW) == Step()


def test_parallel_creates_all_at_once() -> None:
    spec = SetSpec(replicas=3, parallel=True)
    assert plan_step(spec, {}, NEW, NEW).create == ((0, NEW), (1, NEW), (2, NEW))
    assert plan_step(spec, {1: starting()}, NEW, NEW).create == ((0, NEW), (2, NEW))


def test_missing_pod_waits_for_the_old_one_to_be_gone() -> None:
    spec = SetSpec(replicas=2)
    gone = SetPod(NEW, terminating=True)
    assert plan_step(spec, {0: gone, 1: healthy()}, NEW, NEW) == Step()
    # Once gone, the same ordinal comes back.
    assert plan_step(spec, {1: healthy()}, NEW, NEW) == Step(create=((0, NEW),))


def test_failed_pod_is_deleted_then_recreated() -> None:
    spec = SetSpec(replicas=2)
    failed = SetPod(NEW, finished=True)
    assert plan_step(spec, {0: failed, 1: healthy()}, NEW, NEW) == Step(delete=(0,))


def test_scale_down_from_the_highest_one_at_a_time() -> None:
    spec = SetSpec(replicas=1)
    pods = {0: healthy(), 1: healthy(), 2: healthy()}
    assert plan_step(spec, pods, NEW, NEW) == Step(delete=(2,))
    # web-2 terminating: web-1 waits for it.
    pods[2] = SetPod(NEW, terminating=True)
    assert plan_step(spec, pods, NEW, NEW) == Step()
    del pods[2]
    assert plan_step(spec, pods, NEW, NEW) == Step(delete=(1,))


def test_scale_down_waits_for_lower_pods_to_be_healthy() -> None:
    spec = SetSpec(replicas=1)
    assert plan_step(spec, {0: starting(), 1: healthy()}, NEW, NEW) == Step()
    # The first unhealthy pod may go though (it serves nobody).
    assert plan_step(spec, {0: healthy(), 1: healthy(), 2: starting()}, NEW, NEW) == \
        Step(delete=(2,))
    # Only the target's own health counts among the condemned (processCondemned): a healthy
    # web-2 goes before an unhealthy web-1, which then goes as the first unhealthy pod.
    assert plan_step(spec, {0: healthy(), 1: starting(), 2: healthy()}, NEW, NEW) == \
        Step(delete=(2,))
    assert plan_step(spec, {0: healthy(), 1: starting()}, NEW, NEW) == Step(delete=(1,))
    assert plan_step(SetSpec(replicas=2), {0: healthy(), 1: starting(), 2: healthy()}, NEW,
                     NEW) == Step()


def test_parallel_scale_down_removes_all_condemned_at_once() -> None:
    spec = SetSpec(replicas=1, parallel=True)
    pods = {0: starting(), 1: healthy(), 2: starting()}
    assert plan_step(spec, pods, NEW, NEW) == Step(delete=(2, 1))


def test_rolling_update_from_the_highest_down_one_at_a_time() -> None:
    spec = SetSpec(replicas=3)
    pods = {0: healthy(OLD), 1: healthy(OLD), 2: healthy(OLD)}
    assert plan_step(spec, pods, OLD, NEW) == Step(delete=(2,))
    pods[2] = SetPod(OLD, terminating=True)
    assert plan_step(spec, pods, OLD, NEW) == Step()
    del pods[2]
    assert plan_step(spec, pods, OLD, NEW) == Step(create=((2, NEW),))
    pods[2] = starting(NEW)
    assert plan_step(spec, pods, OLD, NEW) == Step()  # waits for web-2 to be Ready
    pods[2] = healthy(NEW)
    assert plan_step(spec, pods, OLD, NEW) == Step(delete=(1,))


def test_rolling_update_with_partition_updates_only_ordinals_from_it() -> None:
    spec = SetSpec(replicas=3, partition=1)
    pods = {0: healthy(OLD), 1: healthy(NEW), 2: healthy(NEW)}
    assert plan_step(spec, pods, OLD, NEW) == Step()  # web-0 stays at the old revision
    pods = {0: healthy(OLD), 1: healthy(OLD), 2: healthy(NEW)}
    assert plan_step(spec, pods, OLD, NEW) == Step(delete=(1,))
    # A pod below the partition re-created after a deletion gets the current revision.
    assert plan_step(spec, {1: healthy(NEW), 2: healthy(NEW)}, OLD, NEW) == \
        Step(create=((0, OLD),))
    assert sts.creation_revision(spec, 0, OLD, NEW) == OLD
    assert sts.creation_revision(spec, 1, OLD, NEW) == NEW


def test_on_delete_replaces_nothing_and_recreates_at_the_update_revision() -> None:
    spec = SetSpec(replicas=2, on_delete=True)
    pods = {0: healthy(OLD), 1: healthy(OLD)}
    assert plan_step(spec, pods, OLD, NEW) == Step()
    assert plan_step(spec, {1: healthy(OLD)}, OLD, NEW) == Step(create=((0, NEW),))


def test_spec_of_reads_the_defaulted_fields() -> None:
    spec = SetSpec.of({"replicas": 4, "podManagementPolicy": "Parallel",
                       "updateStrategy": {"type": "RollingUpdate",
                                          "rollingUpdate": {"partition": 2}}})
    assert spec == SetSpec(replicas=4, parallel=True, on_delete=False, partition=2)
    assert SetSpec.of({"updateStrategy": {"type": "OnDelete"}}) == SetSpec(1, False, True, 0)


def test_status_counts_and_completes_a_rolling_update() -> None:
    pods = [healthy(NEW), healthy(NEW), SetPod(OLD, terminating=True)]
    counts = sts.count_pods(pods, OLD, NEW)
    assert counts == sts.SetCounts(replicas=3, ready=2, available=2, current=0, updated=2)
    status = sts.set_status(counts, OLD, NEW, True, 4, 0)
    assert status["currentRevision"] == OLD and status["updateRevision"] == NEW
    assert "currentReplicas" not in status  # zero: omitted, as the API server's JSON
    done = sts.set_status(sts.count_pods(pods[:2], OLD, NEW), OLD, NEW, True, 4, 0)
    assert done["currentRevision"] == NEW and done["currentReplicas"] == 2
    assert done["observedGeneration"] == 4 and done["collisionCount"] == 0
    # OnDelete never completes a rollout: the current revision stays (as Kubernetes).
    assert sts.set_status(sts.count_pods(pods[:2], OLD, NEW), OLD, NEW, False, 4, 0)[
        "currentRevision"] == OLD


def test_revisions_are_reused_for_an_equal_template() -> None:
    statefulset = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}
    one = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}}
    two = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "b"}]}}
    first = sts.revision_object(statefulset, one, sts.revision_hash(one), 1)
    assert first["metadata"]["name"] == f"web-{sts.revision_hash(one)}"
    assert first["metadata"]["labels"] == {"app": "web", sts.HASH_LABEL: sts.revision_hash(one)}
    assert first["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert sts.template_of(first) == one
    assert sts.next_revision([first], one) == (first, 1)
    assert sts.next_revision([first], two) == (None, 2)
    second = sts.revision_object(statefulset, two, sts.revision_hash(two), 2)
    # Going back to the first template (an undo) moves it to the top.
    assert sts.next_revision([first, second], one) == (first, 3)
    assert sts.revision_hash(one) != sts.revision_hash(two)


def test_history_keeps_live_revisions_and_the_newest_idle_ones() -> None:
    revisions = [{"metadata": {"name": f"web-{n}"}, "revision": n} for n in range(1, 6)]
    assert sts.revisions_to_prune(revisions, {"web-5", "web-1"}, 2) == ["web-2"]
    assert sts.revisions_to_prune(revisions, {"web-5"}, 10) == []


def test_start_ordinal_shifts_the_pods_and_the_partition() -> None:
    spec = SetSpec(replicas=2, start=5, partition=1)
    assert list(spec.ordinals) == [5, 6]
    assert plan_step(spec, {}, OLD, NEW) == Step(create=((5, OLD),))
    assert plan_step(spec, {5: healthy(OLD)}, OLD, NEW) == Step(create=((6, NEW),))
    # Pods outside [start, start+replicas) are condemned, the highest first.
    assert plan_step(spec, {0: healthy(OLD), 5: healthy(OLD), 6: healthy(NEW)}, OLD, NEW) == \
        Step(delete=(0,))
    # The update stops at start + partition: web-5 keeps the old revision.
    assert plan_step(spec, {5: healthy(OLD), 6: healthy(OLD)}, OLD, NEW) == Step(delete=(6,))
    assert plan_step(spec, {5: healthy(OLD), 6: healthy(NEW)}, OLD, NEW) == Step()
    assert SetSpec.of({"replicas": 2, "ordinals": {"start": 5}}).start == 5
