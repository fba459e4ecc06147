"""A command run in a container with the Docker exec API, and its exit code.

The engine records an exec's exit code when the process ends, which for a stream read over a raw
socket (the exec probes) or a detached exec can be after the caller looks: the code is polled for,
briefly, rather than read once. Host and node use this one reading of the code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

EXIT_CODE_WAIT = 5.0  # seconds the engine gets to record the code after the output ended
_POLL = 0.02


class ExecApi(Protocol):
    """The parts of docker.APIClient an exec uses."""

    def exec_create(self, container: str, cmd: list[str], **kwargs: Any) -> dict[str, Any]: ...
    def exec_start(self, exec_id: str, **kwargs: Any) -> Any: ...
    def exec_inspect(self, exec_id: str) -> dict[str, Any]: ...


def exit_code(api: ExecApi, exec_id: str, wait: float) -> int | None:
    """The exit code once the engine has recorded it; None if the command still runs after
    `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL)


def run_streamed(api: ExecApi, container_id: str, command: Sequence[str],
                 stdout: Callable[[bytes], None], stderr: Callable[[bytes], None]) -> int:
    """Run `command` in the container, each chunk of its output handed on as it comes; its exit
    code (1 when the engine never recorded one, as for a command that could not start)."""
    exec_id = api.exec_create(container_id, list(command), stdout=True, stderr=True)["Id"]
    for out, errout in api.exec_start(exec_id, stream=True, demux=True):
        if out:
            stdout(out)
        if errout:
            stderr(errout)
    code = exit_code(api, exec_id, EXIT_CODE_WAIT)
    return code if code is not None else 1
