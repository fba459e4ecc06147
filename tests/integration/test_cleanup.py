"""Cleanup that survives crashes: a SIGKILLed owner's environment is reaped; `prune` removes
environments whose node is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

import docker.errors

from localsvc.host.api import Environment
from localsvc.runtime.environment import destroy
from tests.integration.conftest import ROOT, labelled, localsvc, unique_env, wait_for

OWNER = """
import os, signal, sys
from localsvc.host.api import Environment
env = Environment(sys.argv[1], reap=True, node_image=os.environ["LOCALSVC_NODE_IMAGE"])
env.ensure()
print("ready", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkilled_owner_environment_is_reaped(node_image: str) -> None:
    name = unique_env("k")
    proc = subprocess.run([sys.executable, "-c", OWNER, name], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, LOCALSVC_NODE_IMAGE=node_image))
    assert proc.returncode == -signal.SIGKILL and "ready" in proc.stdout
    env = Environment(name)
    try:
        assert labelled(env.docker, name)["containers"] == 1
        started = time.monotonic()
        wait_for(lambda: labelled(env.docker, name) == {"containers": 0, "networks": 0, "volumes": 0},
                 timeout=60, interval=1, what="the reaper to remove the environment")
        assert time.monotonic() - started < 45
    finally:
        env.down()


def test_environments_from_up_d_are_not_reaped_and_prune_removes_orphans(
        node_image: str, demo_image: str) -> None:
    env = Environment(unique_env("p"), node_image=node_image)
    try:
        env.ensure()
        env.docker.containers.get(f"localsvc-{env.name}-node").stop(timeout=2)
        # Just stopped: it may be an environment in the middle of `up`, so the default leaves it.
        # (Named, so that other environments on the engine are not touched by the test.)
        out = localsvc(env, "prune", env.name).stdout
        assert env.name not in out and labelled(env.docker, env.name)["networks"] == 1
        out = localsvc(env, "prune", "--min-age", "0", env.name).stdout
        assert f"environment {env.name} (node exited) removed" in out
        assert labelled(env.docker, env.name) == {"containers": 0, "networks": 0, "volumes": 0}
    finally:
        env.down()


def test_destroy_removes_pod_volumes_the_engine_made_without_labels(docker_client: Any) -> None:
    """Regression: a container created while its pod's volume was being removed got an empty,
    unlabelled volume of that name from Docker, which `down` (by label) left behind. Another
    environment's labelled volume whose name shares the prefix is kept."""
    name = unique_env("v")
    leaked = docker_client.volumes.create(name=f"localsvc-{name}-vol-0123456789ab-kube-api-access-x")
    other = docker_client.volumes.create(name=f"localsvc-{name}-vol-other-x",
                                         labels={"io.localsvc.env": f"{name}-vol-other"})
    try:
        destroy(docker_client, name)
        names = {v.name for v in docker_client.volumes.list()}
        assert leaked.name not in names
        assert other.name in names
    finally:
        for volume in (leaked, other):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
