"""The Controller's workload steps: the Deployment step's `pending` table (key -> wake time) is the
one the deployment controller keeps (a rebinding would freeze rollouts that only a clock moves)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.node_builders import controller


def test_deployment_step_keeps_the_pending_set_after_forgetting(tmp_path: Path) -> None:
    node = controller(tmp_path)
    step = next(s for s in node.workload_steps if s.kind == "Deployment")
    node.rollouts_pending["Deployment/default/gone"] = 0.0
    node._forget_deleted_deployments()
    assert step.pending is node.rollouts_pending
    assert not step.pending  # the deleted Deployment is forgotten in the same table
    node.rollouts_pending["Deployment/default/web"] = 0.0
    assert "Deployment/default/web" in step.pending
