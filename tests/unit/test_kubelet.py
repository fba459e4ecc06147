"""Tests of localsvc.model.kubelet: the kubelet's decisions for one pod (init-container order,
restart policy, crash back-off, phase, readiness, sandbox loss, adoption) and what each action
does to the pod's state. Pure: the Docker part of an action is played by `kubelet.started` and
friends, the same functions the pod worker calls after its Docker calls."""

from __future__ import annotations

import pytest

from localsvc.model import kubelet
from localsvc.model.kubelet import (
    Action,
    BackOff,
    ConfigFailed,
    CreateSandbox,
    FailPod,
    Kill,
    KubeletSpec,
    MarkInitDone,
    RecreateSandbox,
    Settle,
    Start,
    SyncProbes,
    decide,
)
from localsvc.model.kubelet_state import BACKOFF_RESET_SECONDS, ContainerState, PodState, pod_status

NOW = 10_000.0
TAIL: list[Action] = [SyncProbes(), Settle()]


def pod(init: tuple[str, ...] = (), apps: tuple[str, ...] = ("app",), *, sandbox: bool = True,
        probed: bool = False) -> PodState:
    p = PodState()
    for name in init:
        p.init[name] = ContainerState(name, "img", init=True)
    for name in apps:
        p.containers[name] = ContainerState(name, "img", init=False, probed=probed)
    if sandbox:
        kubelet.sandbox_created(p, "infra", "10.0.0.2", NOW - 100)
    return p


def spec(p: PodState, policy: str = "Always", error: str = "") -> KubeletSpec:
    return KubeletSpec(policy, tuple(p.init), tuple(p.containers), config_error=error)


def terminate(c: ContainerState, exit_code: int, ran: float = 1.0, at: float = NOW) -> None:
    c.container_id = c.container_id or f"id-{c.name}"
    c.state, c.exit_code = "terminated", exit_code
    c.reason = "Completed" if exit_code == 0 else "Error"
    c.started_at, c.finished_at = at - ran, at


def run_container(c: ContainerState, now: float = NOW) -> None:
    kubelet.started(c, f"id-{c.name}-{kubelet.next_attempt(c)}", kubelet.next_attempt(c), now)


def step(p: PodState, s: KubeletSpec, now: float = NOW) -> list[Action]:
    """decide, then play each action: Docker ones succeed at once."""
    actions = decide(s, p, infra_running=p.infra_id is not None, now=now)
    for action in actions:
        match action:
            case Start(name, init):
                run_container((p.init if init else p.containers)[name], now)
            case CreateSandbox():
                kubelet.sandbox_created(p, "infra", "10.0.0.2", now)
            case SyncProbes():
                pass
            case Kill():
                kubelet.apply(action, p, "web", now)  # the container exits later: see killed()
            case _:
                kubelet.apply(action, p, "web", now)
    return actions


# ---- the order of decisions -------------------------------------------------------------------


def test_finished_pod_is_left_alone() -> None:
    for phase in ("Succeeded", "Failed"):
        p = pod()
        p.phase = phase
        assert decide(spec(p), p, True, NOW) == []


def test_config_error_comes_before_the_sandbox_and_marks_waiting_containers() -> None:
    p = pod(init=("i",), sandbox=False)
    p.init["i"].state = "terminated"
    assert decide(spec(p, error="no key x"), p, False, NOW) == [ConfigFailed("no key x")]
    kubelet.apply(ConfigFailed("no key x"), p, "web", NOW)
    assert p.containers["app"].reason == "CreateContainerConfigError"
    assert p.containers["app"].message == "no key x"
    assert p.init["i"].reason != "CreateContainerConfigError"  # only waiting ones


def test_no_sandbox_creates_one() -> None:
    p = pod(sandbox=False)
    assert decide(spec(p), p, False, NOW) == [CreateSandbox()]


def test_sandbox_gone_starts_the_pod_over_counting_restarts() -> None:
    p = pod(init=("i",))
    terminate(p.init["i"], 0)
    p.init_done = True
    run_container(p.containers["app"])
    assert decide(spec(p), p, False, NOW) == [RecreateSandbox()]
    kubelet.sandbox_lost(p)
    assert (p.infra_id, p.pod_ip, p.phase, p.init_done) == (None, "", "Pending", False)
    for c in (p.init["i"], p.containers["app"]):
        assert (c.attempt, c.state, c.container_id, c.ready) == (1, "waiting", None, False)


def test_sandbox_failure_and_creation() -> None:
    p = pod(sandbox=False)
    kubelet.sandbox_failed(p, "no network")
    assert (p.reason, p.message) == ("FailedCreatePodSandBox", "no network")
    kubelet.sandbox_created(p, "infra", "10.0.0.9", NOW)
    assert (p.infra_id, p.pod_ip, p.started_at, p.reason, p.init_done) == (
        "infra", "10.0.0.9", NOW, "", True)
    with_init = pod(init=("i",), sandbox=False)
    kubelet.sandbox_created(with_init, "infra", "10.0.0.9", NOW)
    assert not with_init.init_done


# ---- init containers ----------------------------------------------------------------------------


def test_init_containers_run_in_order_then_the_apps() -> None:
    p = pod(init=("first", "second"), apps=("a", "b"))
    s = spec(p)
    assert step(p, s) == [Start("first", init=True)]
    assert step(p, s) == []  # running: wait for it to exit
    terminate(p.init["first"], 0)
    assert step(p, s) == [Start("second", init=True)]
    assert p.containers["a"].state == "waiting"
    terminate(p.init["second"], 0)
    assert step(p, s) == [MarkInitDone(), Start("a"), Start("b"), *TAIL]
    assert p.init_done and p.phase == "Running"
    assert step(p, s) == TAIL  # all running: nothing to start


@pytest.mark.parametrize(
    "policy, crash_level, expected",
    [
        ("Never", 0, [FailPod("InitContainerFailed")]),
        ("OnFailure", 0, [BackOff("i", init=True), Start("i", init=True)]),
        ("Always", 0, [BackOff("i", init=True), Start("i", init=True)]),
        ("OnFailure", 1, [BackOff("i", init=True)]),  # 10 s back-off: start later
        ("Always", 3, [BackOff("i", init=True)]),
    ],
)
def test_failed_init_container_per_restart_policy(policy: str, crash_level: int,
                                                  expected: list[Action]) -> None:
    p = pod(init=("i", "later"))
    run_container(p.init["i"])
    terminate(p.init["i"], 1)
    p.init["i"].crash_level = crash_level
    assert step(p, spec(p, policy)) == expected
    if policy == "Never":
        assert (p.phase, p.reason) == ("Failed", "InitContainerFailed")
        assert decide(spec(p, policy), p, True, NOW) == []
    else:
        assert p.init["i"].last_terminated is not None
        assert p.init["later"].state == "waiting" and p.init["later"].container_id is None


def test_init_container_in_back_off_waits_until_its_time() -> None:
    p = pod(init=("i",))
    p.init["i"].retry_at = NOW + 5
    assert decide(spec(p), p, True, NOW) == []
    assert decide(spec(p), p, True, NOW + 5) == [Start("i", init=True)]


# ---- restart policy and back-off ----------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, exit_code, restarted",
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_restart_policy(policy: str, exit_code: int, restarted: bool) -> None:
    p = pod()
    p.init_done = True
    run_container(p.containers["app"])
    terminate(p.containers["app"], exit_code)
    actions = decide(spec(p, policy), p, True, NOW)
    assert actions == ([BackOff("app"), Start("app")] if restarted else []) + TAIL
    assert kubelet.restarts(policy, exit_code) is restarted


@pytest.mark.parametrize(
    "crash_level, ran, level, delay",
    [
        (0, 1.0, 0, 0.0),
        (1, 1.0, 1, 10.0),
        (2, 1.0, 2, 20.0),
        (3, 1.0, 3, 40.0),
        (5, 1.0, 5, 160.0),
        (6, 1.0, 6, 300.0),  # capped at 5 minutes
        (40, 1.0, 40, 300.0),
        (6, BACKOFF_RESET_SECONDS - 1, 6, 300.0),
        (6, BACKOFF_RESET_SECONDS, 0, 0.0),  # ran 10 minutes: starts over
    ],
)
def test_back_off_grows_and_resets(crash_level: int, ran: float, level: int,
                                   delay: float) -> None:
    c = ContainerState("app", "img", init=False, crash_level=crash_level)
    terminate(c, 1, ran=ran)
    assert kubelet.restart_delay(c) == (level, delay)


def test_crash_loop_back_off() -> None:
    """Each crash waits longer: the container shows CrashLoopBackOff until its retry time."""
    p = pod()
    p.init_done = True
    s = spec(p)
    now = NOW
    delays = []
    run_container(p.containers["app"], now)
    for _ in range(5):
        terminate(p.containers["app"], 1, at=now + 1)
        now += 1
        step(p, s, now)
        c = p.containers["app"]
        delays.append(c.retry_at - now)
        if c.state == "waiting":
            assert c.reason == "CrashLoopBackOff"
            assert c.message == (f"back-off {int(c.retry_at - now)}s restarting failed "
                                 "container=app pod=web")
            assert step(p, s, now + 1) == TAIL  # still backing off
            now = c.retry_at
            assert step(p, s, now) == [Start("app"), *TAIL]
    assert delays == [0.0, 10.0, 20.0, 40.0, 80.0]
    assert p.containers["app"].attempt == 5


def test_long_run_resets_the_back_off() -> None:
    p = pod()
    p.init_done = True
    c = p.containers["app"]
    c.crash_level = 6
    run_container(c)
    terminate(c, 1, ran=BACKOFF_RESET_SECONDS)
    assert step(p, spec(p)) == [BackOff("app"), Start("app"), *TAIL]
    assert c.crash_level == 1 and c.state == "running"


# ---- start failures -----------------------------------------------------------------------------


def test_image_pull_failure_backs_off() -> None:
    c = ContainerState("app", "img", init=False)
    kubelet.image_pull_failed(c, "no such image", NOW)
    assert (c.state, c.reason, c.message, c.retry_at) == (
        "waiting", "ErrImagePull", "no such image", NOW + 10)
    kubelet.image_pull_failed(c, "no such image", NOW + 10)
    assert (c.reason, c.retry_at) == ("ImagePullBackOff", NOW + 30)
    p = pod()
    p.init_done = True
    p.containers["app"] = c
    assert decide(spec(p), p, True, NOW + 29) == TAIL
    assert decide(spec(p), p, True, NOW + 30) == [Start("app"), *TAIL]


def test_create_failure_backs_off() -> None:
    c = ContainerState("app", "img", init=False)
    kubelet.create_failed(c, "bad mount", NOW)
    assert (c.state, c.reason, c.message, c.crash_level, c.retry_at) == (
        "waiting", "CreateContainerError", "bad mount", 1, NOW + 10)


def test_attempts_count_restarts() -> None:
    c = ContainerState("app", "img", init=False)
    assert kubelet.next_attempt(c) == 0
    kubelet.started(c, "one", 0, NOW)
    assert kubelet.next_attempt(c) == 1
    kubelet.started(c, "two", 1, NOW + 1)
    assert (c.attempt, c.container_id, c.state, c.started_at) == (1, "two", "running", NOW + 1)


# ---- phase and readiness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, exits, phase",
    [
        ("Never", (0, 0), "Succeeded"),
        ("Never", (0, 1), "Failed"),
        ("OnFailure", (0, 0), "Succeeded"),
        ("Always", (None, 0), "Running"),
        ("Never", (None, 1), "Running"),  # one still runs
    ],
)
def test_phase(policy: str, exits: tuple[int | None, ...], phase: str) -> None:
    p = pod(apps=("a", "b"))
    assert p.phase == "Pending"
    assert step(p, spec(p, policy)) == [Start("a"), Start("b"), *TAIL]
    assert p.phase == "Running"
    for name, code in zip(("a", "b"), exits, strict=True):
        if code is not None:
            terminate(p.containers[name], code)
    step(p, spec(p, policy))
    if policy == "Always":
        return  # restarted, still Running
    assert p.phase == phase
    if phase in ("Succeeded", "Failed"):
        assert decide(spec(p, policy), p, True, NOW) == []


def test_pending_while_nothing_was_created() -> None:
    p = pod()
    p.init_done = True
    kubelet.image_pull_failed(p.containers["app"], "no image", NOW)
    kubelet.settle(p)
    assert p.phase == "Pending"


@pytest.mark.parametrize(
    "probed, probe_ready, state, ready",
    [
        (False, False, "running", True),
        (True, False, "running", False),
        (True, True, "running", True),
        (True, True, "terminated", False),
        (False, False, "waiting", False),
    ],
)
def test_readiness(probed: bool, probe_ready: bool, state: str, ready: bool) -> None:
    p = pod(probed=probed)
    p.init_done = True
    run_container(p.containers["app"])
    p.containers["app"].probe_ready = probe_ready
    p.containers["app"].state = state
    kubelet.settle(p)
    assert p.containers["app"].ready is ready
    status = pod_status(p, False, NOW, "172.18.0.2")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    pod_ready = ready and state == "running"
    assert conditions["Ready"] == conditions["ContainersReady"] == str(pod_ready)
    assert conditions["Initialized"] == "True"


def test_initialized_condition_false_while_init_runs() -> None:
    p = pod(init=("i",))
    step(p, spec(p))
    conditions = {c["type"]: c["status"] for c in pod_status(p, False, NOW, "")["conditions"]}
    assert conditions == {"PodScheduled": "True", "Initialized": "False",
                          "ContainersReady": "False", "Ready": "False"}
    assert p.phase == "Pending"


def test_liveness_kill_restarts_the_container() -> None:
    """A failed liveness probe stops the container (exit 137): it restarts as a new attempt,
    its readiness starting over."""
    p = pod(probed=True)
    p.init_done = True
    c = p.containers["app"]
    run_container(c)
    c.probe_ready = True
    kubelet.settle(p)
    assert c.ready
    terminate(c, 137)
    c.probe_ready = False  # new instance, new probers (PodProbes.ensure)
    assert step(p, spec(p, "Always")) == [BackOff("app"), Start("app"), *TAIL]
    assert c.last_terminated is not None and c.last_terminated["exitCode"] == 137
    assert (c.attempt, c.state, c.ready) == (1, "running", False)


def test_failed_liveness_probe_kills_the_instance_once_then_it_restarts() -> None:
    p = pod()
    p.init_done = True
    c = p.containers["app"]
    run_container(c)
    first = c.container_id
    assert first is not None
    assert not kubelet.probe_failed(c, "an-older-instance", "Liveness probe failed: late")
    assert kubelet.probe_failed(c, first, "Liveness probe failed: HTTP 500", "liveness")
    assert not kubelet.probe_failed(c, first, "Liveness probe failed: again")  # once
    s = spec(p, "Always")
    # The Kill carries the probe's kind, for the kubelet's Killing event.
    assert decide(s, p, True, NOW) == [
        Kill("app", "Liveness probe failed: HTTP 500", "liveness"), *TAIL]
    step(p, s)
    assert (c.state, c.kill_reason) == ("running", "")  # asked once: the stop is under way
    terminate(c, 137)  # what the next observation sees
    assert c.exit_code == 137
    assert step(p, s) == [BackOff("app"), Start("app"), *TAIL]
    assert c.container_id != first and c.attempt == 1 and c.kill_reason == ""


@pytest.mark.parametrize("policy, restarted", [("Always", True), ("OnFailure", True),
                                               ("Never", False)])
def test_killed_container_follows_the_restart_policy(policy: str, restarted: bool) -> None:
    p = pod()
    p.init_done = True
    c = p.containers["app"]
    run_container(c)
    assert c.container_id is not None
    kubelet.probe_failed(c, c.container_id, "Startup probe failed")
    assert step(p, spec(p, policy)) == [Kill("app", "Startup probe failed"), *TAIL]
    terminate(c, 137)
    step(p, spec(p, policy))
    assert (c.state == "running") is restarted
    assert p.phase == ("Running" if restarted else "Failed")


def test_vanished_container_counts_as_killed() -> None:
    c = ContainerState("app", "img", init=False)
    run_container(c)
    kubelet.container_vanished(c, NOW)
    assert (c.state, c.exit_code, c.reason, c.finished_at) == ("terminated", 137, "Error", NOW)


# ---- adoption and the executor's part -------------------------------------------------------------


def test_adopted_running_pod_starts_nothing() -> None:
    """A new node process adopts running containers: nothing is created again."""
    p = pod(init=("i",), apps=("a", "b"))
    terminate(p.init["i"], 0)
    p.init_done = True
    for name in ("a", "b"):
        p.containers[name].attempt = 2
        run_container(p.containers[name])
    assert decide(spec(p), p, True, NOW) == TAIL
    kubelet.settle(p)
    assert p.phase == "Running" and p.ready


def test_adopted_pod_with_an_exited_container_restarts_it() -> None:
    p = pod()
    p.init_done = True
    c = p.containers["app"]
    c.attempt = 3
    terminate(c, 1)
    assert step(p, spec(p)) == [BackOff("app"), Start("app"), *TAIL]
    assert c.attempt == 4


@pytest.mark.parametrize("action", [CreateSandbox(), RecreateSandbox(), Start("app"),
                                    SyncProbes()])
def test_apply_refuses_docker_actions(action: Action) -> None:
    with pytest.raises(ValueError, match="executor"):
        kubelet.apply(action, pod(), "web", NOW)
