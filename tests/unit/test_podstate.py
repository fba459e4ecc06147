"""Tests of localsvc.node.podstate: the pod worker's pure decisions (restart back-off, phase)
and the pod status it shows, the Ready condition's reason included."""

from __future__ import annotations

import pytest

from localsvc.node.podstate import (
    BACKOFF_RESET_SECONDS,
    ContainerState,
    PodState,
    fingerprint,
    not_ready_reason,
    observe,
    phase_of,
    pod_status,
    schedule_restart,
)


def running(name: str, ready: bool = True, probe_message: str = "") -> ContainerState:
    c = ContainerState(name, "img", init=False, container_id=f"id-{name}", state="running",
                       reason="", ready=ready)
    c.probe_message = probe_message
    return c


def pod(*containers: ContainerState) -> PodState:
    return PodState(phase="Running", pod_ip="10.0.0.5", init_done=True,
                    containers={c.name: c for c in containers})


def ready_condition(status: dict[str, object]) -> dict[str, str]:
    conditions = status["conditions"]
    assert isinstance(conditions, list)
    return next(c for c in conditions if c["type"] == "Ready")


# ---- conditions' lastTransitionTime -----------------------------------------------------------


def test_conditions_keep_their_transition_time_until_their_status_flips() -> None:
    """The kubelet's updateLastTransitionTime: a condition's time is when its status last
    changed, not when the status was last computed."""
    p = pod(running("a", ready=False, probe_message="HTTP probe failed with statuscode: 503"))
    first = pod_status(p, stopping=False, created=0, node_ip="10.0.0.2", now=1_000)
    assert ready_condition(first)["lastTransitionTime"] == "1970-01-01T00:16:40Z"
    p.containers["a"].probe_message = "HTTP probe failed with statuscode: 500"  # same status
    again = pod_status(p, stopping=False, created=0, node_ip="10.0.0.2", now=1_005)
    assert ready_condition(again)["lastTransitionTime"] == "1970-01-01T00:16:40Z"
    p.containers["a"].ready = True  # flips
    ready = pod_status(p, stopping=False, created=0, node_ip="10.0.0.2", now=1_010)
    assert ready_condition(ready)["lastTransitionTime"] == "1970-01-01T00:16:50Z"
    initialized = next(c for c in ready["conditions"] if c["type"] == "Initialized")
    assert initialized["lastTransitionTime"] == "1970-01-01T00:16:40Z"  # never flipped


# ---- the Ready condition -----------------------------------------------------------------------


def test_ready_pod_has_no_reason() -> None:
    status = pod_status(pod(running("a")), stopping=False, created=0, node_ip="10.0.0.2")
    assert ready_condition(status) == {"type": "Ready", "status": "True"}
    assert not_ready_reason(pod(running("a"))) == {}


def test_not_ready_pod_names_the_containers_and_the_probe_failure() -> None:
    """Case 2: the pod is not ready *with a clear reason*: the readiness probe's message."""
    s = pod(running("app", ready=False,
                    probe_message="Readiness probe failed: command 'cat /tmp/ready' wrote more "
                                  "than 1024 KiB of output"),
            running("side"), running("web", ready=False))
    condition = ready_condition(pod_status(s, stopping=False, created=0, node_ip="10.0.0.2"))
    assert condition == {
        "type": "Ready", "status": "False", "reason": "ContainersNotReady",
        "message": "containers with unready status: [app web]; app: Readiness probe failed: "
                   "command 'cat /tmp/ready' wrote more than 1024 KiB of output",
    }


def test_a_stopping_pod_is_not_ready() -> None:
    status = pod_status(pod(running("a")), stopping=True, created=0, node_ip="10.0.0.2")
    assert ready_condition(status)["status"] == "False"
    statuses = status["containerStatuses"]
    assert isinstance(statuses, list) and statuses[0]["ready"] is True


def test_status_fields() -> None:
    s = pod(running("a"))
    s.started_at = 86400.0
    s.reason, s.message = "FailedCreatePodSandBox", "no network"
    status = pod_status(s, stopping=False, created=0, node_ip="10.0.0.2")
    assert status["podIP"] == "10.0.0.5" and status["podIPs"] == [{"ip": "10.0.0.5"}]
    assert status["hostIP"] == "10.0.0.2" and status["startTime"] == "1970-01-02T00:00:00Z"
    assert (status["reason"], status["message"]) == ("FailedCreatePodSandBox", "no network")
    assert "initContainerStatuses" not in status


# ---- adoption -----------------------------------------------------------------------------------


# ---- container decisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docker_state", "state", "reason", "exit_code"),
    [
        ({"Running": True, "StartedAt": "2026-12-07T03:00:00.123456789Z"}, "running", "", None),
        ({"Status": "created"}, "waiting", "ContainerCreating", None),
        ({"ExitCode": 0, "FinishedAt": "2026-12-07T03:00:01Z"}, "terminated", "Completed", 0),
        ({"ExitCode": 2}, "terminated", "Error", 2),
        ({"ExitCode": 137, "OOMKilled": True}, "terminated", "OOMKilled", 137),
    ],
)
def test_observe(docker_state: dict[str, object], state: str, reason: str,
                 exit_code: int | None) -> None:
    c = ContainerState("a", "img", init=False)
    observe(c, "cid", docker_state, 1.0)
    assert (c.container_id, c.state, c.reason, c.exit_code) == ("cid", state, reason, exit_code)


def test_restart_backs_off_and_resets_after_a_long_run() -> None:
    c = ContainerState("a", "img", init=False, state="terminated", exit_code=1, reason="Error",
                       started_at=100.0, finished_at=101.0, container_id="x")
    schedule_restart(c, "p", 1000.0)
    assert (c.state, c.reason, c.crash_level) == ("waiting", "ContainerCreating", 1)
    assert c.last_terminated is not None and c.last_terminated["exitCode"] == 1
    c.state, c.started_at, c.finished_at = "terminated", 200.0, 201.0
    schedule_restart(c, "p", 1000.0)
    assert c.reason == "CrashLoopBackOff" and c.retry_at == 1010.0
    assert "back-off" in c.message and "pod=p" in c.message
    c.state, c.started_at, c.finished_at = "terminated", 0.0, BACKOFF_RESET_SECONDS
    schedule_restart(c, "p", 1000.0)
    assert c.crash_level == 1  # reset, then counted once


@pytest.mark.parametrize(
    ("states", "phase"),
    [
        ([("terminated", 0, "x"), ("terminated", 0, "y")], "Succeeded"),
        ([("terminated", 0, "x"), ("terminated", 1, "y")], "Failed"),
        ([("running", None, "x"), ("terminated", 1, "y")], "Running"),
        ([("waiting", None, None)], "Pending"),
    ],
)
def test_phase(states: list[tuple[str, int | None, str | None]], phase: str) -> None:
    containers = [ContainerState(f"c{i}", "img", init=False, state=st, exit_code=code,
                                 container_id=cid) for i, (st, code, cid) in enumerate(states)]
    assert phase_of(containers) == phase


def test_fingerprint_changes_with_readiness_not_with_timestamps() -> None:
    s = pod(running("a"))
    before = fingerprint(s)
    s.containers["a"].started_at = 5.0
    assert fingerprint(s) == before
    s.containers["a"].ready = False
    assert fingerprint(s) != before
