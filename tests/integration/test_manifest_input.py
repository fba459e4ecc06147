"""`-f -` and hostile manifests through the real CLI against the real engine: piped manifests
apply, an alias bomb or a Python tag is refused at once with its line and nothing is created."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import docker

from localsvc.host.api import Environment
from tests.integration.conftest import labelled, unique_env

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: piped}\ndata: {greeting: hello}\n"


def _localsvc(
    env_name: str, node_image: str, stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, LOCALSVC_ENV=env_name, LOCALSVC_NODE_IMAGE=node_image, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "localsvc", *args], input=stdin,
                          capture_output=True, text=True, env=environ, timeout=180)


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh"):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


def test_apply_reads_manifests_from_standard_input(env: Environment) -> None:
    applied = _localsvc(env.name, env.node_image or "", CONFIGMAP, "apply", "-f", "-")
    assert applied.returncode == 0, applied.stderr
    listed = _localsvc(env.name, env.node_image or "", "", "get", "cm", "piped", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert '"greeting": "hello"' in listed.stdout


def test_hostile_input_is_refused_at_once_and_creates_nothing(
    docker_client: docker.DockerClient, node_image: str
) -> None:
    name = unique_env()
    cases = [
        (_billion_laughs(), "<stdin>:6: aliases (*e) expand this text to more than 100000 values"),
        (CONFIGMAP + "---\n" + "x: !!python/object/apply:os.system [touch /tmp/pwned]\n",
         "<stdin>:6: x: the tag !!python/object/apply:os.system is not allowed; remove it"),
    ]
    try:
        for text, problem in cases:
            started = time.monotonic()
            result = _localsvc(name, node_image, text, "apply", "-f", "-")
            elapsed = time.monotonic() - started
            assert result.returncode == 1, result.stderr
            assert problem in result.stderr
            assert elapsed < 10, f"{elapsed:.1f}s, mostly interpreter start-up on a busy machine"
        assert labelled(docker_client, name) == {"containers": 0, "networks": 0, "volumes": 0}
    finally:
        Environment(name, node_image=node_image).down()
