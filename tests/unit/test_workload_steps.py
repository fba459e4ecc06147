"""The Controller's workload steps: the Deployment step's `pending` table (key -> wake time) is the
one the deployment controller keeps (a rebinding would freeze rollouts that only a clock moves)."""

from __future__ import annotations

from pathlib import Path

from localsvc.node.workloads import ReadySince, forget_gone
from tests.unit.node_builders import controller


def test_deployment_step_keeps_the_pending_set_after_forgetting(tmp_path: Path) -> None:
    node = controller(tmp_path)
    step = next(s for s in node.workload_steps if s.kind == "Deployment")
    node.rollouts_pending["Deployment/default/gone"] = 0.0
    forget_gone(step, node.workload_statuses, node.state.objects)  # the step loop's forget
    assert step.pending is node.rollouts_pending
    assert not step.pending  # the deleted Deployment is forgotten in the same table
    node.rollouts_pending["Deployment/default/web"] = 0.0
    assert "Deployment/default/web" in step.pending


def test_every_step_forgets_the_wake_times_and_statuses_of_its_gone_objects(
        tmp_path: Path) -> None:
    node = controller(tmp_path)
    for step in node.workload_steps:
        gone = f"{step.kind}/default/gone"
        step.pending[gone] = 0.0
        node.workload_statuses[gone] = {}
    node.workload_statuses["Pod/default/gone"] = {}  # not a step's kind: left alone
    for step in node.workload_steps:
        forget_gone(step, node.workload_statuses, node.state.objects)
        assert not step.pending
    assert list(node.workload_statuses) == ["Pod/default/gone"]


def test_ready_since_keeps_the_first_time_a_pod_was_seen_ready_per_workload() -> None:
    table = ReadySince()
    assert table.count("DaemonSet/default/a", ["p1"], 10.0) == {"p1": 10.0}
    assert table.count("DaemonSet/default/a", ["p1", "p2"], 20.0) == {"p1": 10.0, "p2": 20.0}
    table.count("StatefulSet/default/b", ["q1"], 20.0)  # another workload's pods: its own
    assert table.count("DaemonSet/default/a", ["p2"], 30.0) == {"p2": 20.0}  # p1 not ready
    assert table.count("DaemonSet/default/a", ["p1", "p2"], 40.0) == {"p1": 40.0, "p2": 20.0}
    assert table["StatefulSet/default/b"] == {"q1": 20.0}
