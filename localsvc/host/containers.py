"""A pod's containers on the Docker engine, which the host can always reach: which container a
command means, its log, a command run in it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

import docker
import docker.errors

from localsvc.errors import LocalsvcError, NotFound
from localsvc.host.podstatus import pod_reason
from localsvc.runtime.execs import run_streamed

Obj = dict[str, Any]


def container_id(obj: Obj, container: str | None, previous: bool,
                 progress: Callable[[str], None]) -> str:
    """The Docker id of a container of the pod `obj` (the first when None; its last terminated
    instance with `previous`)."""
    pod = obj["metadata"]["name"]
    statuses = obj["status"].get("containerStatuses") or []
    names = [s["name"] for s in statuses]
    if container is None:
        if len(names) > 1:
            progress(f'defaulted container "{names[0]}" out of: {", ".join(names)}')
        container = names[0] if names else None
    status = next((s for s in statuses + (obj["status"].get("initContainerStatuses") or [])
                   if s["name"] == container), None)
    if status is None:
        raise NotFound(f'container "{container}" not found in pod "{pod}"; it has: {", ".join(names)}')
    if previous:
        cid = (status.get("lastState") or {}).get("terminated", {}).get("containerID")
        if not cid:
            raise NotFound(f'previous terminated container "{container}" in pod "{pod}" not found')
    else:
        cid = status.get("containerID")
        if not cid:
            reason = pod_reason(obj)
            raise LocalsvcError(f'container "{container}" in pod "{pod}" has not started ({reason})')
    return str(cid).removeprefix("docker://")


def log_chunks(client: docker.DockerClient, cid: str, pod: str, *, follow: bool,
               tail: int | None) -> Iterator[bytes]:
    try:
        c = client.containers.get(cid)
    except docker.errors.NotFound as err:
        raise NotFound(f"the container of pod {pod} is gone") from err
    kwargs: dict[str, Any] = {"stdout": True, "stderr": True}
    if tail is not None:
        kwargs["tail"] = tail
    if follow:
        yield from c.logs(stream=True, follow=True, **kwargs)
    else:
        yield c.logs(**kwargs)


def exec_in(client: docker.DockerClient, cid: str, command: Sequence[str], *,
            interactive: bool, tty: bool) -> int:
    """Run a command in a container, its output to ours; returns its exit code."""
    if interactive or tty:
        # A terminal session is the docker CLI's job; it is installed with the engine.
        flags = ("-i" if interactive else "") + ("t" if tty else "")
        flags = flags if flags.startswith("-") else "-" + flags
        try:
            return subprocess.call(["docker", "exec", flags, cid, *command])
        except FileNotFoundError as err:
            raise LocalsvcError("exec -i/-t needs the docker CLI on PATH") from err
    return run_streamed(client.api, cid, command, _to(sys.stdout.buffer), _to(sys.stderr.buffer))


def _to(stream: BinaryIO) -> Callable[[bytes], None]:
    """Writes each chunk through at once, so a long command's output shows as it comes."""
    def write(chunk: bytes) -> None:
        stream.write(chunk)
        stream.flush()
    return write
