"""`up --wait`'s waker (host/waitwake.py) against a real node: its watches of the pods and the
Endpoints wake the wait as soon as a pod is applied and as it turns Ready, not at the next poll;
nothing wakes it while nothing changes; close() ends its watches at once."""

from __future__ import annotations

import time
from pathlib import Path

from localsvc.host.api import Environment
from localsvc.host.podstatus import pod_ready
from localsvc.host.waitwake import ChangeWaker
from tests.integration.conftest import DEMO_IMAGE, write

POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  containers:
  - name: web
    image: {DEMO_IMAGE}
    args: [serve, --port, "8080"]
    readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
"""


def test_the_waker_wakes_on_each_change_of_a_pod_and_only_then(
        env: Environment, tmp_path: Path) -> None:
    env.ensure()
    waker = ChangeWaker(env.node()).start()
    try:
        time.sleep(0.5)  # the watches are held
        assert not waker.wait(0.5), "woken while nothing changed"
        env.apply([write(tmp_path, "pod.yaml", POD)])
        began = time.monotonic()
        assert waker.wait(5.0), "not woken by the pod's creation"
        assert time.monotonic() - began < 1.0
        # Each later wake comes with a change: the pod turns Ready within a few of them.
        deadline = time.monotonic() + 30
        while not pod_ready(env.get("pods", "web")[0]):
            assert time.monotonic() < deadline, "the pod never turned Ready"
            assert waker.wait(10.0), "a change of the pod did not wake the waker"
    finally:
        began = time.monotonic()
        waker.close()
    assert time.monotonic() - began < 2.0
    assert not any(thread.is_alive() for thread in waker._threads)
