"""The kubelet's probe Events: what an exec attempt says (node/podprobes.py exec_result), what
the prober hands on for each failure and kill (kind and output, node/prober.py), and the
Unhealthy and Killing wording (node/podevents.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from localsvc.node.events import EventRecorder
from localsvc.node.execprobe import ExecOutcome
from localsvc.node.objectstore import ObjectStore
from localsvc.node.podevents import PodEvents
from localsvc.node.podprobes import exec_result
from localsvc.node.prober import ContainerProber, ProbeResult

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(("outcome", "output"), [
    (ExecOutcome("exited", exit_code=1, output="warming-up-still"), "warming-up-still"),
    (ExecOutcome("exited", exit_code=3), ""),  # the kubelet prints the (empty) output too
    (ExecOutcome("timeout"), 'command "sleep 5" timed out'),
])
def test_an_exec_attempt_says_what_the_kubelet_says(outcome: ExecOutcome, output: str) -> None:
    result = exec_result(outcome, ["sleep", "5"], 1.0)
    assert result == ProbeResult(False, outcome.message(["sleep", "5"], 1.0), output)


def test_what_the_kubelet_never_meets_is_said_in_localsvc_words() -> None:
    capped = ExecOutcome("output-cap")
    assert exec_result(capped, ["cat"], 1.0).output == capped.message(["cat"], 1.0)
    assert exec_result(ExecOutcome("busy"), ["cat"], 1.0).passed is None  # no failure at all


def run_prober(container: dict[str, Any], answers: list[ProbeResult | Exception]
               ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The real probe_once through ContainerProber; exec_fn answers from `answers` (raising
    the exceptions), each period waited for 0 s."""
    failures: list[tuple[str, str]] = []
    kills: list[tuple[str, str]] = []

    async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
        answer = answers.pop(0) if answers else ProbeResult(True)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def main() -> None:
        prober = ContainerProber(container, "127.0.0.1", time.monotonic(), exec_fn,
                                 lambda ready, message: None,
                                 lambda kind, why: kills.append((kind, why)),
                                 lambda kind, output: failures.append((kind, output)))
        task = asyncio.ensure_future(prober.run())
        deadline = time.monotonic() + 5
        while answers and not task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    return failures, kills


def probe(**settings: Any) -> dict[str, Any]:
    return {"exec": {"command": ["check"]}, "periodSeconds": 0.01, **settings}


def test_each_failure_hands_on_its_own_output_never_an_earlier_one() -> None:
    # Regression: an exec_fn raising reused the previous outcome, so the event showed old output.
    failures, _ = run_prober({"name": "c", "readinessProbe": probe()},
                             [ProbeResult(False, "exited with 1", "first"),
                              OSError("container is gone"),
                              ProbeResult(False, "exited with 1", "third")])
    assert failures == [("readiness", "first"), ("readiness", "container is gone"),
                        ("readiness", "third")]


@pytest.mark.parametrize("kind", ["liveness", "startup"])
def test_a_kill_names_the_kind_of_probe(kind: str) -> None:
    failed = ProbeResult(False, "exited with 1", "down")
    failures, kills = run_prober({"name": "c", f"{kind}Probe": probe(failureThreshold=2)},
                                 [failed, failed])
    assert failures == [(kind, "down"), (kind, "down")]
    assert kills == [(kind, f"{kind.capitalize()} probe failed: exited with 1")]


def test_unhealthy_and_killing_in_the_kubelets_words() -> None:
    store = ObjectStore()
    pod = PodEvents(EventRecorder(store, "localsvc"), "default", "p", "u")
    pod.unhealthy("app", "readiness", "warming-up-still")
    pod.unhealthy("app", "liveness", 'command "sleep 5" timed out')
    pod.killing("app", "startup")
    pod.killing("app")
    messages = {(e["reason"], e["message"]) for e in store.list_objects("Event")[0]}
    assert messages == {
        ("Unhealthy", "Readiness probe failed: warming-up-still"),
        ("Unhealthy", 'Liveness probe failed: command "sleep 5" timed out'),
        ("Killing", "Container app failed startup probe, will be restarted"),
        ("Killing", "Stopping container app")}
