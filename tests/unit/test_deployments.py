"""Tests of localsvc.model.deployments: template hashes, pod names and the rollout planner."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from localsvc.model.deployments import (
    SAFE_ALPHABET,
    OwnedPod,
    RolloutStep,
    plan_rollout,
    pod_name,
    random_suffix,
    template_hash,
)

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
}


# ---- template_hash / pod_name ------------------------------------------------------------------


def test_template_hash_is_ten_safe_characters() -> None:
    h = template_hash(TEMPLATE)
    assert len(h) == 10
    assert set(h) <= set(SAFE_ALPHABET)
    assert not set(h) & set("aeiou013")


def test_template_hash_is_stable_and_ignores_key_order() -> None:
    reordered = {
        "spec": {"containers": [{"ports": [{"containerPort": 80}], "image": "nginx:1.25", "name": "web"}]},
        "metadata": {"labels": {"app": "web"}},
    }
    assert template_hash(TEMPLATE) == template_hash(TEMPLATE)
    assert template_hash(reordered) == template_hash(TEMPLATE)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t["spec"]["containers"][0].__setitem__("image", "nginx:1.26"),
        lambda t: t["metadata"]["labels"].__setitem__("version", "2"),
        lambda t: t["spec"]["containers"][0].__setitem__("env", [{"name": "A", "value": "1"}]),
        lambda t: t["spec"]["containers"][0]["ports"][0].__setitem__("containerPort", 8080),
    ],
    ids=["image", "label", "env", "port"],
)
def test_template_hash_changes_with_the_template(change: Any) -> None:
    changed = copy.deepcopy(TEMPLATE)
    change(changed)
    assert template_hash(changed) != template_hash(TEMPLATE)


def test_pod_name_and_suffix() -> None:
    assert pod_name("web", "abcde12345", "xz9k2") == "web-abcde12345-xz9k2"
    suffix = random_suffix(random.Random(1))
    assert len(suffix) == 5 and set(suffix) <= set(SAFE_ALPHABET)
    assert random_suffix(random.Random(7)) == random_suffix(random.Random(7))
    assert len(random_suffix(length=8)) == 8


# ---- plan_rollout without a template change ----------------------------------------------------


def _pods(*specs: tuple[str, bool, float], hash_: str = "new") -> list[OwnedPod]:
    return [OwnedPod(name, hash_, ready, created) for name, ready, created in specs]


@pytest.mark.parametrize(
    ("replicas", "existing", "expected"),
    [
        (3, 0, RolloutStep(create=3)),
        (3, 1, RolloutStep(create=2)),
        (3, 3, RolloutStep()),
        (0, 0, RolloutStep()),
        (None, 0, RolloutStep(create=1)),  # replicas defaults to 1
    ],
)
def test_scale_up(replicas: int | None, existing: int, expected: RolloutStep) -> None:
    spec = {} if replicas is None else {"replicas": replicas}
    pods = _pods(*[(f"p{i}", True, float(i)) for i in range(existing)])
    assert plan_rollout(spec, "new", pods) == expected


@pytest.mark.parametrize(
    ("replicas", "pods", "doomed"),
    [
        # newest first among equally ready pods
        (2, [("a", True, 1), ("b", True, 2), ("c", True, 3)], ["c"]),
        # unready before ready, even when older
        (2, [("a", False, 1), ("b", True, 2), ("c", True, 3)], ["a"]),
        # unready newest first, then ready newest first
        (1, [("a", False, 1), ("b", False, 2), ("c", True, 3), ("d", True, 4)], ["b", "a", "d"]),
        (0, [("a", True, 1), ("b", True, 2)], ["b", "a"]),
    ],
)
def test_scale_down_removes_unready_then_newest(
    replicas: int, pods: list[tuple[str, bool, float]], doomed: list[str]
) -> None:
    step = plan_rollout({"replicas": replicas}, "new", _pods(*pods))
    assert step == RolloutStep(create=0, delete=doomed)


# ---- rolling updates ---------------------------------------------------------------------------


def _rolling(replicas: int, surge: Any = None, unavailable: Any = None) -> dict[str, Any]:
    rolling = {}
    if surge is not None:
        rolling["maxSurge"] = surge
    if unavailable is not None:
        rolling["maxUnavailable"] = unavailable
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if rolling:
        strategy["rollingUpdate"] = rolling
    return {"replicas": replicas, "strategy": strategy}


# (spec, effective maxSurge, effective maxUnavailable)
ROLLING_CASES = [
    pytest.param(_rolling(1), 1, 0, id="r1-defaults"),
    pytest.param(_rolling(3), 1, 0, id="r3-defaults"),
    pytest.param(_rolling(4), 1, 1, id="r4-defaults"),
    pytest.param(_rolling(10), 3, 2, id="r10-defaults"),  # 2.5 -> surge up, unavailable down
    pytest.param({"replicas": 4}, 1, 1, id="r4-no-strategy"),
    pytest.param(_rolling(3, 0, 0), 0, 1, id="r3-surge0-unavail0"),  # both 0 -> unavailable 1
    pytest.param(_rolling(1, 0, 0), 0, 1, id="r1-surge0-unavail0"),
    pytest.param(_rolling(4, 0, 1), 0, 1, id="r4-surge0-int"),
    pytest.param(_rolling(3, 2, 0), 2, 0, id="r3-int-surge2"),
    pytest.param(_rolling(5, 2, 2), 2, 2, id="r5-int-2-2"),
    pytest.param(_rolling(3, "50%", "0%"), 2, 0, id="r3-50pct"),
    pytest.param(_rolling(4, 0, "50%"), 0, 2, id="r4-unavail-50pct"),
    pytest.param(_rolling(10, "30%", "30%"), 3, 3, id="r10-30pct"),
]


@pytest.mark.parametrize(("spec", "surge", "unavailable"), ROLLING_CASES)
def test_first_rolling_step_uses_surge_and_unavailable(
    spec: dict[str, Any], surge: int, unavailable: int
) -> None:
    replicas = spec["replicas"]
    old = _pods(*[(f"old-{i}", True, float(i)) for i in range(replicas)], hash_="old")
    step = plan_rollout(spec, "new", old)
    assert step.create == surge
    assert len(step.delete) == unavailable
    # ready old pods go newest first
    assert step.delete == [f"old-{i}" for i in reversed(range(replicas))][:unavailable]


def _simulate(
    spec: dict[str, Any], surge: int, unavailable: int, ready_all_at_once: bool
) -> int:
    """Run a whole rollout, pods becoming ready when the planner waits; return the step count."""
    replicas = spec["replicas"]
    pods = _pods(*[(f"old-{i}", True, float(i)) for i in range(replicas)], hash_="old")
    clock = float(replicas)
    for steps in range(1, 500):
        step = plan_rollout(spec, "new", pods)
        names = {p.name for p in pods}
        assert set(step.delete) <= names, "deletes a pod that does not exist"
        assert len(set(step.delete)) == len(step.delete), "deletes a pod twice"
        pods = [p for p in pods if p.name not in step.delete]
        ready = sum(p.ready for p in pods)
        assert ready >= replicas - unavailable, f"step {steps}: only {ready} ready"
        for _ in range(step.create):
            clock += 1
            pods.append(OwnedPod(f"new-{int(clock)}", "new", False, clock))
        assert len(pods) <= replicas + surge, f"step {steps}: {len(pods)} pods"
        if step.create or step.delete:
            continue
        waiting = [p for p in pods if not p.ready]
        if not waiting:
            assert all(p.template_hash == "new" for p in pods)
            assert len(pods) == replicas
            return steps
        promote = waiting if ready_all_at_once else waiting[:1]
        pods = [OwnedPod(p.name, p.template_hash, True, p.created) if p in promote else p
                for p in pods]
    raise AssertionError("rollout did not finish")


@pytest.mark.parametrize("ready_all_at_once", [False, True], ids=["one-by-one", "all-at-once"])
@pytest.mark.parametrize(("spec", "surge", "unavailable"), ROLLING_CASES)
def test_whole_rolling_update_respects_bounds(
    spec: dict[str, Any], surge: int, unavailable: int, ready_all_at_once: bool
) -> None:
    steps = _simulate(spec, surge, unavailable, ready_all_at_once)
    assert steps >= 2


def test_old_unready_pods_are_removed_at_once() -> None:
    pods = [
        OwnedPod("old-a", "old", True, 1),
        OwnedPod("old-b", "old", False, 2),
        OwnedPod("old-c", "old", True, 3),
    ]
    step = plan_rollout(_rolling(3), "new", pods)
    # surge 1 allows one new pod; the unready old pod costs no availability
    assert step.create == 1
    assert step.delete == ["old-b"]


def test_rolling_update_waits_while_new_pods_are_not_ready() -> None:
    pods = [
        *_pods(("old-a", True, 1), ("old-b", True, 2), ("old-c", True, 3), hash_="old"),
        OwnedPod("new-d", "new", False, 4),
    ]
    assert plan_rollout(_rolling(3), "new", pods) == RolloutStep()


def test_rolling_update_finishes_by_removing_the_last_old_pod() -> None:
    pods = [OwnedPod("old-a", "old", True, 1), *_pods(("n1", True, 2), ("n2", True, 3), ("n3", True, 4))]
    assert plan_rollout(_rolling(3), "new", pods) == RolloutStep(create=0, delete=["old-a"])


# ---- Recreate ----------------------------------------------------------------------------------


def test_recreate_deletes_all_old_pods_then_creates() -> None:
    spec = {"replicas": 3, "strategy": {"type": "Recreate"}}
    old = _pods(("a", True, 1), ("b", False, 2), ("c", True, 3), hash_="old")
    first = plan_rollout(spec, "new", old)
    assert first == RolloutStep(create=0, delete=["a", "b", "c"])
    assert plan_rollout(spec, "new", []) == RolloutStep(create=3)


def test_recreate_keeps_new_pods_while_old_ones_remain() -> None:
    spec = {"replicas": 2, "strategy": {"type": "Recreate"}}
    pods = [OwnedPod("old", "old", True, 1), OwnedPod("new", "new", False, 2)]
    assert plan_rollout(spec, "new", pods) == RolloutStep(create=0, delete=["old"])
