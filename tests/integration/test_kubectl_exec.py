"""kubectl v1.32 exec, attach and cp against a real environment (issue 13, "Streams"): the
WebSocket channel protocol (v5) bridged to Docker exec and attach. One environment and one
namespace of pods for the module; each test uses its own pod or its own commands."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import DEMO_IMAGE, wait_for
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, shared_env)

TMUX = shutil.which("tmux") or "/usr/bin/tmux"

PODS = f"""apiVersion: v1
kind: Pod
metadata: {{name: box}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {DEMO_IMAGE}
    command: ["sleep", "infinity"]
---
apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: first, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
  - {{name: second, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: ticker}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
"""


@pytest.fixture(scope="module")
def pods(kubectl: Kubectl) -> Iterator[str]:
    """A namespace with the module's long-running pods, all Ready."""
    name = kubectl.namespace(f"exec-{uuid.uuid4().hex[:6]}")
    kubectl.run("apply", "-n", name, "-f", "-", stdin=PODS)
    kubectl.run("wait", "-n", name, "--for=condition=Ready", "pod", "--all", "--timeout=60s",
                request_timeout=None, timeout=70)
    yield name
    kubectl.remove_namespace(name)


def test_exec_prints_the_command_output(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c", "echo hello; echo world")
    assert result.stdout == "hello\nworld\n"
    assert result.stderr == ""


def test_exec_reads_piped_stdin_to_its_end(kubectl: Kubectl, pods: str) -> None:
    # `cat` ends only when stdin's end reaches it: the v5 CLOSE signal, a half-close in Docker.
    text = "".join(f"line {i}\n" for i in range(2000))
    result = kubectl.run("exec", "-i", "-n", pods, "box", "--", "sh", "-c", "cat; echo done",
                         stdin=text, timeout=30)
    assert result.stdout == text + "done\n"


def test_exec_exit_codes_reach_kubectl(kubectl: Kubectl, pods: str) -> None:
    ok = kubectl.run("exec", "-n", pods, "box", "--", "true", check=False)
    assert ok.returncode == 0, ok.stderr
    failed = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3
    assert failed.stderr == "command terminated with exit code 3\n"


def test_exec_keeps_stderr_apart(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c",
                         "echo out; echo err >&2; echo out2")
    assert result.stdout == "out\nout2\n"
    assert result.stderr == "err\n"


def test_exec_output_larger_than_one_frame(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c",
                         "head -c 3000000 /dev/zero | tr '\\0' x")
    assert result.stdout == "x" * 3_000_000


def test_exec_in_a_named_container_and_the_default(kubectl: Kubectl, pods: str) -> None:
    named = kubectl.run("exec", "-n", pods, "two", "-c", "second", "--", "sh", "-c",
                        "echo $HOSTNAME")
    assert named.stdout.strip() == "two"
    defaulted = kubectl.run("exec", "-n", pods, "two", "--", "true")
    assert 'Defaulted container "first" out of: first, second' in defaulted.stderr


def test_exec_errors_are_the_api_servers(kubectl: Kubectl, pods: str) -> None:
    unknown = kubectl.run("exec", "-n", pods, "two", "-c", "nope", "--", "true", check=False)
    assert unknown.returncode == 1
    assert "container nope is not valid for pod two" in unknown.stderr
    missing = kubectl.run("exec", "-n", pods, "ghost", "--", "true", check=False)
    assert missing.returncode == 1
    assert 'pods "ghost" not found' in missing.stderr
    bad = kubectl.run("exec", "-n", pods, "box", "--", "no-such-binary", check=False)
    # Docker's engine reports a missing binary in the stream with code 126 (as `docker exec`).
    assert bad.returncode == 126
    assert 'exec: "no-such-binary": executable file not found' in bad.stdout


def test_a_plain_post_gets_a_status_not_a_hang(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("create", "--raw",
                         f"/api/v1/namespaces/{pods}/pods/box/exec?command=true&stdout=true",
                         "-f", "-", stdin="", check=False, timeout=20)
    assert result.returncode == 1
    assert "WebSocket only" in result.stderr and "BadRequest" in result.stderr


def test_exec_in_a_container_that_is_not_running(kubectl: Kubectl, pods: str) -> None:
    kubectl.run("apply", "-n", pods, "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: half}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: main, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
  - {{name: done, image: {DEMO_IMAGE}, command: ["true"]}}
""")

    def done_exited() -> bool:
        statuses = kubectl.json("get", "pod", "-n", pods, "half")["status"].get(
            "containerStatuses") or []
        return any(s["name"] == "done" and "terminated" in s.get("state", {}) for s in statuses)

    wait_for(done_exited, timeout=30, what="container done terminated")
    result = kubectl.run("exec", "-n", pods, "half", "-c", "done", "--", "true", check=False)
    assert result.returncode == 1
    assert result.stderr == ('error: Internal error occurred: unable to upgrade connection: '
                             'container not found ("done")\n')
