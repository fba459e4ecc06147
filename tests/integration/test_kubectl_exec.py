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
