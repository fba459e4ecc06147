"""Exec probes that cannot hurt the node (issue 10, cases 2 and 3), against the real engine.

First the exec-probe runner on a plain container (output capped, commands ended, at most one
unended run when a container cannot be cleaned), then whole environments: a readiness probe
reading /dev/zero, and a Deployment whose probes hang, while the node keeps serving."""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from localsvc.host.api import Environment
from localsvc.node.execprobe import OUTPUT_READ_CAP, ContainerExecProbes, ExecProbeRunner
from localsvc.runtime import labels as L
from tests.integration.conftest import DEMO_IMAGE, wait_for, write

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def box(docker_client: docker.DockerClient, demo_image: str) -> Iterator[Any]:
    """A plain long-running container of the demo image (Debian: sh, grep, cat, sleep)."""
    name = f"localsvc-probetest-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.run(
        demo_image, ["600"], entrypoint=["sleep"], name=name, detach=True,
        labels={L.ENV: name}, stop_signal="SIGKILL",
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def processes(container: Any, command: str) -> int:
    """How many processes of the container run exactly `command` (docker top: host side)."""
    top = container.top()
    column = top["Titles"].index("CMD")
    return sum(1 for p in top["Processes"] if p[column] == command)


# ---- the runner on a plain container -----------------------------------------------------------


def test_output_is_capped_and_the_command_ended(box: Any,
                                               docker_client: docker.DockerClient) -> None:
    """Case 2: `cat /dev/zero` as a probe. exec_run kept all of it (150 MB/s in the node); now at
    most 10 KiB is kept, reading stops at 1 MiB and the command is killed."""
    probes = ContainerExecProbes(docker_client.api, box.id)
    tracemalloc.start()
    began = time.monotonic()
    outcome = probes.attempt(["cat", "/dev/zero"], 5.0)
    took = time.monotonic() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert outcome.kind == "output-cap" and outcome.ended, outcome
    assert not outcome.passed
    assert took < 3.0  # the cap, not the 5 s timeout, ended it
    assert peak < OUTPUT_READ_CAP // 2, f"reading used {peak} bytes"
    assert len(outcome.output) == 10 * 1024
    assert processes(box, "cat /dev/zero") == 0


def test_a_timed_out_command_is_ended(box: Any, docker_client: docker.DockerClient) -> None:
    """Case 3: a timed-out probe used to leave `sleep 3600` running; every attempt added one."""
    probes = ContainerExecProbes(docker_client.api, box.id)
    for _ in range(3):
        began = time.monotonic()
        outcome = probes.attempt(["sleep", "3600"], 1.0)
        assert outcome.kind == "timeout" and outcome.ended, outcome
        assert 0.9 < time.monotonic() - began < 4.0
    assert processes(box, "sleep 3600") == 0
    assert processes(box, "sleep 600") == 1  # the container's own process is left alone


def test_children_of_the_command_are_ended_too(box: Any,
                                               docker_client: docker.DockerClient) -> None:
    probes = ContainerExecProbes(docker_client.api, box.id)
    outcome = probes.attempt(["sh", "-c", "sleep 3601; echo never"], 0.5)
    assert outcome.kind == "timeout" and outcome.ended, outcome
    assert processes(box, "sleep 3601") == 0


def test_exit_code_and_output(box: Any, docker_client: docker.DockerClient) -> None:
    probes = ContainerExecProbes(docker_client.api, box.id)
    failed = probes.attempt(["sh", "-c", "echo not ready; echo detail >&2; exit 3"], 5.0)
    assert (failed.kind, failed.exit_code) == ("exited", 3)
    assert "not ready" in failed.output and "detail" in failed.output
    assert "exited with 3: " in failed.message(["sh"], 5.0)
    ok = probes.attempt(["true"], 5.0)
    assert ok.passed and ok.exit_code == 0
    missing = probes.attempt(["no-such-command"], 5.0)
    assert missing.kind == "exited" and missing.exit_code not in (0, None)


def test_a_container_that_cannot_be_cleaned_keeps_one_stuck_run(
    box: Any, docker_client: docker.DockerClient
) -> None:
    """Without sh the command cannot be ended from inside; then the next attempts fail at once
    instead of starting more, so at most one stuck run exists per command."""
    assert box.exec_run(["rm", "-f", "/usr/bin/sh", "/bin/sh"]).exit_code == 0
    probes = ContainerExecProbes(docker_client.api, box.id)
    first = probes.attempt(["sleep", "3600"], 0.5)
    assert first.kind == "timeout" and not first.ended
    assert "could not stop it" in first.message(["sleep", "3600"], 0.5)
    for _ in range(3):
        again = probes.attempt(["sleep", "3600"], 0.5)
        assert again.kind == "still-running" and not again.passed, again
    assert processes(box, "sleep 3600") == 1


def test_a_stopped_container_gives_no_result(box: Any, docker_client: docker.DockerClient) -> None:
    """The engine refusing the exec is an outcome without a verdict, never an exception (which
    would end the container's prober)."""
    box.kill()
    outcome = ContainerExecProbes(docker_client.api, box.id).attempt(["true"], 1.0)
    assert outcome.kind == "error" and outcome.verdict is None
    assert "is not running" in outcome.detail


def test_runner_bounds_concurrent_attempts(box: Any, docker_client: docker.DockerClient) -> None:
    import asyncio

    probes = ContainerExecProbes(docker_client.api, box.id)
    runner = ExecProbeRunner(slots=2)

    async def main() -> list[str]:
        attempts = [runner.run(probes, ["sleep", "3600"], 1.0) for _ in range(5)]
        return [o.kind for o in await asyncio.gather(*attempts)]

    try:
        kinds = asyncio.run(main())
    finally:
        runner.shutdown()
    assert kinds.count("timeout") == 2 and kinds.count("busy") == 3, kinds
    assert processes(box, "sleep 3600") == 0


# ---- whole environments ------------------------------------------------------------------------


def node_memory(env: Environment) -> int:
    stats = env.docker.containers.get(f"localsvc-{env.name}-node").stats(stream=False)
    return int(stats["memory_stats"]["usage"])


def ready_condition(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")


def gone(env: Environment, pod: str) -> bool:
    return not any(p["metadata"]["name"] == pod for p in env.get("pods"))


def test_probe_reading_dev_zero_keeps_the_node_flat(env: Environment, tmp_path: Path) -> None:
    """Case 2: readinessProbe `cat /tmp/ready` with /tmp/ready -> /dev/zero grew the node to
    5.8 GB in 40 s. Now its memory stays flat, the pod is not ready with the reason, and it can
    be deleted."""
    manifest = write(tmp_path, "zero.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: zero}}
spec:
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "ln -s /dev/zero /tmp/ready; exec python3 /app/demo.py serve --port 8080"]
    readinessProbe:
      exec: {{command: [cat, /tmp/ready]}}
      periodSeconds: 1
""")
    env.apply([manifest])
    wait_for(lambda: "wrote more than" in (ready_condition(env.pod("zero")).get("message") or ""),
             timeout=30, what="the probe's failure in the Ready condition")
    baseline = node_memory(env)
    highest = baseline
    end = time.monotonic() + 20
    while time.monotonic() < end:
        highest = max(highest, node_memory(env))
        time.sleep(1)
    print(f"node memory over 20 s of the probe: {baseline / 2**20:.1f} -> "
          f"{highest / 2**20:.1f} MiB")
    assert highest - baseline < 50 * 2**20, f"node memory grew {baseline} -> {highest}"
    pod = env.pod("zero")
    condition = ready_condition(pod)
    assert condition["status"] == "False" and condition["reason"] == "ContainersNotReady"
    assert "app: Readiness probe failed: command 'cat /tmp/ready' wrote more than 1024 KiB" in (
        condition["message"])
    container = env.docker.containers.get(env.container_id("zero"))
    assert processes(container, "cat /tmp/ready") <= 1  # at most the attempt in flight
    began = time.monotonic()
    env.delete_objects("pod", ["zero"])
    wait_for(lambda: gone(env, "zero"), timeout=15, what="pod zero deleted")
    assert time.monotonic() - began < 15


HANGING = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hang}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: hang}}}}
  template:
    metadata: {{labels: {{app: hang}}}}
    spec:
      containers:
      - name: app
        image: {DEMO_IMAGE}
        readinessProbe:
          exec: {{command: [sleep, "3600"]}}
          periodSeconds: 1
          timeoutSeconds: 1
"""

OTHER = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: other}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: other}}}}
  template:
    metadata: {{labels: {{app: other}}}}
    spec:
      containers:
      - name: app
        image: {DEMO_IMAGE}
"""


def test_hanging_probes_do_not_starve_the_node(env: Environment, tmp_path: Path) -> None:
    """Case 3: 6 replicas whose exec readiness probe hangs (period 1 s, timeout 1 s). The node
    used to stop answering DNS, creating and deleting pods."""
    env.apply([write(tmp_path, "hang.yaml", HANGING)])

    def hang_pods() -> list[dict[str, Any]]:
        return [p for p in env.get("pods") if p["metadata"]["name"].startswith("hang-")]

    wait_for(lambda: len([p for p in hang_pods() if p["status"]["phase"] == "Running"]) == 6,
             timeout=40, what="6 hang pods running")
    time.sleep(15)  # the probes hammer the node
    # (a) DNS through the node's API answers within a second
    began = time.monotonic()
    answer = env.dns("kubernetes.default.svc.cluster.local")
    answered = time.monotonic() - began
    assert answered < 1.0, answer
    # (d) no pile-up of probe commands: at most the one attempt in flight per pod
    pods = hang_pods()
    assert all(not ready_condition(p)["status"] == "True" for p in pods)
    assert any("timed out after 1s; stopped it" in (ready_condition(p).get("message") or "")
               or "exec probes were already running" in (ready_condition(p).get("message") or "")
               for p in pods)
    for p in pods:
        container = env.docker.containers.get(env.container_id(p["metadata"]["name"]))
        assert processes(container, "sleep 3600") <= 1, p["metadata"]["name"]
    # (b) a new pod of another Deployment runs within a normal time
    began = time.monotonic()
    env.apply([write(tmp_path, "other.yaml", OTHER)])
    wait_for(lambda: any(p["metadata"]["name"].startswith("other-")
                         and p["status"]["phase"] == "Running"
                         and ready_condition(p)["status"] == "True" for p in env.get("pods")),
             timeout=15, what="the other Deployment's pod ready")
    created = time.monotonic() - began
    # (c) deleting a pod finishes within a few seconds
    victim = pods[0]["metadata"]["name"]
    began = time.monotonic()
    env.delete_objects("pod", [victim])
    wait_for(lambda: gone(env, victim), timeout=10, what=f"pod {victim} deleted")
    deleted = time.monotonic() - began
    print(f"DNS answered in {answered:.2f}s, new pod ready in {created:.1f}s, "
          f"pod deleted in {deleted:.1f}s")
    assert created < 15 and deleted < 10
