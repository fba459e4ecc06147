"""runtime/pods.infra_containers: a pod's infra container is told apart by its role label."""

from __future__ import annotations

from types import SimpleNamespace

from localsvc.runtime import labels as L
from localsvc.runtime.pods import infra_containers


def test_only_the_infra_role_is_the_infra_container() -> None:
    infra = SimpleNamespace(labels={L.ROLE: L.ROLE_POD_INFRA})
    app = SimpleNamespace(labels={L.ROLE: L.ROLE_POD_CONTAINER})
    unlabelled = SimpleNamespace(labels={})
    assert infra_containers([app, infra, unlabelled]) == [infra]
    assert infra_containers([app]) == []
