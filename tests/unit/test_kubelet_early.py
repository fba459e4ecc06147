"""Tests of localsvc.model.kubelet.created_with_sandbox: which containers the pod worker may
create while the pod's sandbox starts (node/podearly.py does it)."""

from __future__ import annotations

from localsvc.model import kubelet
from localsvc.model.kubelet import CreateSandbox, KubeletSpec, Start, created_with_sandbox, decide
from localsvc.model.kubelet_state import ContainerState, PodState

NOW = 10_000.0


def new_pod(init: tuple[str, ...] = (), apps: tuple[str, ...] = ("web", "side")) -> PodState:
    p = PodState()
    for name in init:
        p.init[name] = ContainerState(name, "img", init=True)
    for name in apps:
        p.containers[name] = ContainerState(name, "img", init=False)
    return p


def spec(p: PodState, error: str = "") -> KubeletSpec:
    return KubeletSpec("Always", tuple(p.init), tuple(p.containers), config_error=error)


def test_a_new_pods_containers_are_made_with_its_sandbox() -> None:
    p = new_pod()
    assert created_with_sandbox(spec(p), p) == ("web", "side")
    # ...which are exactly those decide starts once the sandbox is there.
    assert decide(spec(p), p, False, NOW) == [CreateSandbox()]
    kubelet.sandbox_created(p, "infra", "10.0.0.5", NOW)
    assert [a for a in decide(spec(p), p, True, NOW) if isinstance(a, Start)] == [
        Start("web"), Start("side")]


def test_init_containers_run_first_so_nothing_is_made_early() -> None:
    p = new_pod(init=("migrate",))
    assert created_with_sandbox(spec(p), p) == ()


def test_nothing_early_when_the_config_cannot_be_made() -> None:
    p = new_pod()
    assert created_with_sandbox(spec(p, error='configmap "x" not found'), p) == ()


def test_nothing_early_once_the_sandbox_exists() -> None:
    p = new_pod()
    kubelet.sandbox_created(p, "infra", "10.0.0.5", NOW)
    assert created_with_sandbox(spec(p), p) == ()


def test_a_sandbox_made_again_restarts_containers_the_usual_way() -> None:
    """The sandbox was lost under a running pod: its containers' next attempts count restarts
    (and may wait out a back-off), so none is made early."""
    p = new_pod()
    kubelet.sandbox_created(p, "infra", "10.0.0.5", NOW)
    kubelet.started(p.containers["web"], "id-web", 0, NOW)
    kubelet.sandbox_lost(p)
    assert created_with_sandbox(spec(p), p) == ()
