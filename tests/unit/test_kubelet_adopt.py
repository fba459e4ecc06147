"""Adoption without Docker: what a new node process makes of a pod's leftover containers
(localsvc.model.kubelet_adopt), and how node/podstate reads Docker's containers into it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localsvc.model.kubelet_adopt import (
    AdoptContainer,
    AdoptSandbox,
    CountLostAttempt,
    DiscardLeftovers,
    InitDone,
    Leftover,
    apply_adoption,
    decide_adoption,
)
from localsvc.model.kubelet_state import ContainerState, PodState
from localsvc.node.podstate import leftover_of
from localsvc.runtime import labels as L

RUNNING = {"Running": True, "StartedAt": "2026-12-07T03:00:00Z"}
EXITED = {"ExitCode": 1, "StartedAt": "2026-12-07T03:00:00Z", "FinishedAt": "2026-12-07T03:00:05Z"}


def pod(app: tuple[str, ...] = ("app",), init: tuple[str, ...] = ()) -> PodState:
    return PodState(containers={n: ContainerState(n, "img", init=False) for n in app},
                    init={n: ContainerState(n, "img", init=True) for n in init})


def sandbox(running: bool = True) -> Leftover:
    return Leftover("infra", True, "", 0, running, RUNNING if running else EXITED, "10.9.0.7")


def container(name: str, attempt: int, state: dict[str, Any] | None = None) -> Leftover:
    return Leftover(f"{name}-{attempt}", False, name, attempt, state is RUNNING,
                    state if state is not None else EXITED)


def adopted(state: PodState, leftovers: list[Leftover]) -> list[Any]:
    actions = decide_adoption(state, leftovers)
    for action in actions:
        apply_adoption(action, state, now=1000.0)
    return actions


def test_nothing_left_over_is_nothing_to_do() -> None:
    assert decide_adoption(pod(), []) == []


def test_a_running_sandbox_and_the_latest_attempt_of_each_container_are_taken_over() -> None:
    state = pod(("app", "side"))
    actions = adopted(state, [sandbox(), container("app", 0), container("app", 2, RUNNING),
                              container("app", 1), container("side", 3, EXITED)])
    assert actions[0] == AdoptSandbox("infra", "10.9.0.7", actions[0].started_at)
    assert {a.container_id for a in actions if isinstance(a, AdoptContainer)} == {
        "app-2", "side-3"}
    assert actions[-1] == InitDone()
    assert (state.infra_id, state.pod_ip, state.init_done) == ("infra", "10.9.0.7", True)
    app, side = state.containers["app"], state.containers["side"]
    assert (app.attempt, app.state, app.container_id) == (2, "running", "app-2")
    assert (side.attempt, side.state, side.exit_code) == (3, "terminated", 1)


def test_init_containers_run_again_unless_an_app_container_had_started() -> None:
    waiting = pod(init=("migrate",))
    adopted(waiting, [sandbox(), container("migrate", 0, EXITED)])
    assert not waiting.init_done and waiting.init["migrate"].state == "terminated"
    started = pod(init=("migrate",))
    adopted(started, [sandbox(), container("migrate", 0, EXITED), container("app", 0, RUNNING)])
    assert started.init_done


def test_a_lost_sandbox_discards_everything_and_counts_a_restart_per_container() -> None:
    state = pod(("a", "b"))
    state.containers["b"].attempt = 5
    leftovers = [sandbox(running=False), container("a", 2), container("a", 0),
                 container("b", 1), container("gone", 7)]
    actions = adopted(state, leftovers)
    assert actions[0] == DiscardLeftovers(("infra", "a-2", "a-0", "b-1", "gone-7"))
    assert CountLostAttempt("a", 3) in actions
    assert (state.containers["a"].attempt, state.containers["b"].attempt) == (3, 5)
    assert state.infra_id is None and not state.init_done


def test_a_container_created_with_a_sandbox_that_never_started_counts_no_restart() -> None:
    """The node went while a new pod's sandbox started, its containers created alongside it
    (node/podearly.py): none of them ran, so the pod starts over at attempt 0."""
    created = {"Status": "created", "ExitCode": 0, "StartedAt": "0001-01-01T00:00:00Z"}
    infra = Leftover("infra", True, "", 0, False, created)
    actions = adopted(pod(), [infra, container("app", 0, created)])
    assert actions == [DiscardLeftovers(("infra", "app-0"))]
    state = pod()
    adopted(state, [sandbox(running=False), container("app", 0, created),
                    container("app", 1)])  # an earlier attempt that did run still counts
    assert state.containers["app"].attempt == 2


def test_containers_without_their_sandbox_are_discarded_too() -> None:
    actions = decide_adoption(pod(), [container("app", 0, RUNNING)])
    assert actions == [DiscardLeftovers(("app-0",)), CountLostAttempt("app", 1)]


def _docker(role: str, status: str, **labels: str) -> Any:
    return SimpleNamespace(
        id=f"{role}-id", status=status, labels={L.ROLE: role, **labels},
        attrs={"State": RUNNING, "NetworkSettings": {"Networks": {"net": {"IPAddress": "10.9.0.8"}}}})


def test_docker_containers_are_read_by_their_labels() -> None:
    infra = leftover_of(_docker(L.ROLE_POD_INFRA, "running"), "net")
    assert infra == Leftover("pod-infra-id", True, "", 0, True, RUNNING, "10.9.0.8")
    app = leftover_of(_docker(L.ROLE_POD_CONTAINER, "exited",
                              **{L.CONTAINER: "app", L.ATTEMPT: "4"}), "net")
    assert app is not None and (app.name, app.attempt, app.running, app.ip) == ("app", 4, False, "")
    odd = leftover_of(_docker(L.ROLE_POD_CONTAINER, "exited", **{L.ATTEMPT: "x"}), "net")
    assert odd is not None and odd.attempt == 0
    assert leftover_of(_docker(L.ROLE_POD_VOLUME, "exited"), "net") is None


def test_a_finished_pod_keeps_its_phase_across_a_node_restart() -> None:
    # The API served a Job's Succeeded pod as Pending until the new worker's first step.
    done = {"ExitCode": 0, "StartedAt": "2026-12-07T03:00:00Z",
            "FinishedAt": "2026-12-07T03:00:05Z"}
    state = pod()
    adopted(state, [sandbox(), container("app", 0, done)])
    assert state.phase == "Succeeded"
    failed = pod()
    adopted(failed, [sandbox(), container("app", 0, EXITED)])
    assert failed.phase == "Failed"
    running = pod()
    adopted(running, [sandbox(), container("app", 0, RUNNING)])
    assert running.phase == "Running"
