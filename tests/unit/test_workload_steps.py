"""The Controller's workload steps: the Deployment step's `pending` set is the one the deployment
controller keeps (a rebinding would freeze rollouts that only a clock moves)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.node_builders import controller


def test_deployment_step_keeps_the_pending_set_after_forgetting(tmp_path: Path) -> None:
    node = controller(tmp_path)
    step = next(s for s in node.workload_steps if s.kind == "Deployment")
    node.rollouts_pending.add("Deployment/default/gone")
    node._forget_deleted_deployments()
    assert step.pending is node.rollouts_pending
    assert not step.pending  # the deleted Deployment is forgotten in the same set
    node.rollouts_pending.add("Deployment/default/web")
    assert "Deployment/default/web" in step.pending
