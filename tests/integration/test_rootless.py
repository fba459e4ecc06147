"""localsvc on a rootless Docker engine (issue 9, "Engines"), reached through a docker context.

Opt-in (LOCALSVC_TEST_ROOTLESS=1): it starts a second engine as an unprivileged user with
scripts/rootless-docker (root needed: it creates the user and installs uidmap, rootlesskit and
slirp4netns), which CI should not do unasked; an earlier CI attempt at a rootless test hung
silently. Every step here has its own timeout. The images are built inside the rootless engine
(its own image store); they stay cached in that user's home, so later runs take about a minute.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.conftest import DEMO_CONTEXT, DEMO_IMAGE, ROOT, labelled, unique_env, wait_for

pytestmark = [
    pytest.mark.skipif(os.environ.get("LOCALSVC_TEST_ROOTLESS") != "1",
                       reason="opt-in: set LOCALSVC_TEST_ROOTLESS=1 (starts a rootless Docker "
                              "engine as a separate user; needs root and user namespaces)"),
    # First run: the base image via debootstrap (~2 min) plus the node and demo images.
    pytest.mark.timeout(600),
]

SCRIPT = ROOT / "scripts" / "rootless-docker"
CONTEXT = "localsvc-rootless"


def run(argv: list[str], timeout: float, environ: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environ)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def is_running() -> bool:
    return run([str(SCRIPT), "status"], timeout=30, check=False).returncode == 0


@pytest.fixture(scope="module")
def rootless_host() -> Iterator[str]:
    """DOCKER_HOST of the rootless engine; stopped afterwards if this test started it."""
    if os.geteuid() != 0:
        pytest.skip("scripts/rootless-docker needs root (it creates a user and installs packages)")
    was_running = is_running()
    out = run([str(SCRIPT)], timeout=300).stdout.strip().splitlines()
    assert out and out[-1].startswith("DOCKER_HOST=unix://"), out
    try:
        yield out[-1].removeprefix("DOCKER_HOST=")
    finally:
        if not was_running:
            run([str(SCRIPT), "stop"], timeout=60)


@pytest.fixture
def rootless_environ(rootless_host: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user who chose the rootless engine with a docker context (the way
    the docker CLI is pointed at it), in a private DOCKER_CONFIG."""
    config = tmp_path / "docker-config"
    config.mkdir()
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "LOCALSVC_NODE_IMAGE")}
    environ.update(DOCKER_CONFIG=str(config), NO_COLOR="1")
    run(["docker", "context", "create", CONTEXT, "--docker", f"host={rootless_host}"],
        timeout=30, environ=environ)
    environ["DOCKER_CONTEXT"] = CONTEXT
    security = run(["docker", "info", "--format", "{{json .SecurityOptions}}"], timeout=30,
                   environ=environ).stdout
    assert "rootless" in security, f"the context does not reach a rootless engine: {security}"
    return environ


def cli(environ: dict[str, str], *args: str, timeout: float,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "localsvc", *args], timeout=timeout, environ=environ,
               check=check)


def backends_seen(environ: dict[str, str]) -> set[str]:
    logs = cli(environ, "logs", "client", timeout=30, check=False).stdout
    return {line.split()[2] for line in logs.splitlines() if line.startswith("hello from backend-")}


def two_or_more(pods: set[str]) -> set[str] | None:
    return pods if len(pods) >= 2 else None


def first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, waiting at most `timeout` (readline alone can hang)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_backend_service_example_on_rootless_docker(rootless_host: str,
                                                    rootless_environ: dict[str, str],
                                                    docker_client: docker.DockerClient) -> None:
    environ = dict(rootless_environ, LOCALSVC_ENV=unique_env("rl"))
    name = environ["LOCALSVC_ENV"]
    rootless = docker.DockerClient(base_url=rootless_host, timeout=30)
    timings: dict[str, float] = {}

    def step(what: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = cli(environ, *args, timeout=timeout)
        timings[what] = round(time.monotonic() - started, 1)
        return result

    try:
        step("node image", "images", "node", timeout=400)
        step("demo image", "images", "build", str(DEMO_CONTEXT), "--tag", DEMO_IMAGE, timeout=300)
        step("up", "up", "-d", "-f", str(ROOT / "examples" / "backend-service"), timeout=240)
        # Everything went to the rootless engine the context names, nothing to the root one.
        assert labelled(rootless, name)["containers"] >= 5  # node + 3 backends + client
        assert labelled(docker_client, name) == {"containers": 0, "networks": 0, "volumes": 0}

        # The client calls backend-service by its short name: cluster DNS and the ClusterIP
        # NAT work inside the rootless engine's network namespace.
        seen = wait_for(lambda: two_or_more(backends_seen(environ)), timeout=60,
                        what="the client to reach two backends by name")
        assert all(pod.startswith("backend-") for pod in seen)

        # port-forward from the host's loopback (the node API is published through
        # rootlesskit's port driver).
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "localsvc", "port-forward",
                                 "svc/backend-service", ":80"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=environ)
        try:
            line = first_line(proc, timeout=30)
            assert line.startswith("Forwarding from 127.0.0.1:"), line
            port = int(line.split(":")[1].split()[0])
            assert get(f"http://127.0.0.1:{port}/").startswith("hello from backend-")
            timings["port-forward"] = round(time.monotonic() - started, 1)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                assert proc.wait(timeout=10) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)

        step("down", "down", timeout=120)
        assert labelled(rootless, name) == {"containers": 0, "networks": 0, "volumes": 0}
        print(f"rootless timings (s): {timings}", file=sys.stderr)
    finally:
        cli(environ, "down", timeout=120, check=False)
        rootless.close()
