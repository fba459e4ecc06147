"""A command run in a container through the exec API (runtime/execs.py and the host's
`localsvc exec` path in containers.py): output handed on per stream, the exit code kept."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import docker
import pytest

from localsvc.runtime.execs import EXIT_CODE_WAIT, exit_code, run_streamed

from .conftest import unique_env


@pytest.fixture
def sleeper(docker_client: docker.DockerClient, demo_image: str) -> Iterator[str]:
    container = docker_client.containers.run(
        demo_image, ["sleep", "55"], name=unique_env("exec-"), detach=True, entrypoint=[])
    try:
        yield str(container.id)
    finally:
        container.remove(force=True)


def test_run_streamed_keeps_streams_apart_and_returns_the_exit_code(
        docker_client: docker.DockerClient, sleeper: str) -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    code = run_streamed(docker_client.api, sleeper,
                        ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"], out.append, err.append)
    assert code == 3
    assert b"".join(out) == b"to-out\n"
    assert b"".join(err) == b"to-err\n"


def test_every_quick_command_reports_its_own_code(docker_client: docker.DockerClient,
                                                  sleeper: str) -> None:
    codes = [run_streamed(docker_client.api, sleeper, ["sh", "-c", f"exit {n}"],
                          lambda _: None, lambda _: None) for n in (0, 7, 0, 42, 0)]
    assert codes == [0, 7, 0, 42, 0]


def test_a_command_that_cannot_start_is_not_a_success(docker_client: docker.DockerClient,
                                                      sleeper: str) -> None:
    code = run_streamed(docker_client.api, sleeper, ["/no/such/program"],
                        lambda _: None, lambda _: None)
    assert code != 0


def test_exit_code_of_a_running_command_is_none_until_it_ends(
        docker_client: docker.DockerClient, sleeper: str) -> None:
    api = docker_client.api
    exec_id = api.exec_create(sleeper, ["sleep", "1"])["Id"]
    api.exec_start(exec_id, detach=True)
    assert exit_code(api, exec_id, 0.1) is None
    assert exit_code(api, exec_id, EXIT_CODE_WAIT) == 0


def test_host_exec_path_passes_output_and_code(sleeper: str) -> None:
    # containers.exec_in writes to this process's own stdout/stderr: run it in a child.
    script = ("import sys; from localsvc.runtime.engine import connect; "
              "from localsvc.host.containers import exec_in; "
              f"sys.exit(exec_in(connect(), {sleeper!r}, ['sh', '-c', 'echo hi; echo oops >&2; exit 5'], "
              "interactive=False, tty=False))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert done.returncode == 5, done.stderr
    assert done.stdout == b"hi\n"
    assert done.stderr == b"oops\n"
