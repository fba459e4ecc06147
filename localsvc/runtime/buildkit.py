"""Builds through the engine's BuildKit, as `docker build` does with buildx, but through the
engine API alone: `POST /build?version=2` with the context as a tar body. No client session is
needed for a tar context (the daemon serves it to BuildKit itself), so this works where the
docker CLI has no buildx plugin.

BuildKit's progress arrives as JSON messages `{"id": "moby.buildkit.trace", "aux": <base64
StatusResponse>}`; `BuildDisplay` turns them into lines: on a terminal one line per finished
step with its time or CACHED; in CI or without a terminal, plain lines (`#3 [2/3] RUN ...`, the
step's output, `#3 DONE 0.4s`) like `--progress=plain`. Every plain line is kept for the error
of a failed build, which shows the whole log.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import docker

from localsvc.runtime.buildkit_status import ProtobufError, StatusResponse, Vertex, decode_status
from localsvc.runtime.image_common import Progress

TRACE_ID = "moby.buildkit.trace"
LOG_LIMIT = 20000  # lines of a failed build's log kept for its error (whole for sane builds)


def progress_mode(environ: Mapping[str, str], isatty: bool) -> str:
    """`tty` (one line per finished step) on a terminal outside CI, else `plain`."""
    ci = environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
    return "tty" if isatty and not ci else "plain"


@dataclass
class _Step:
    number: int
    vertex: Vertex
    log_tail: str = ""  # an unfinished last line of output, completed by the next chunk
    shown_start: bool = False
    done: bool = False


@dataclass
class BuildDisplay:
    """The state of one BuildKit build's progress (pure: lines go to `progress`)."""

    progress: Progress
    mode: str = "plain"
    log: list[str] = field(default_factory=list)
    steps: dict[str, _Step] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def feed(self, status: StatusResponse) -> None:
        for vertex in status.vertexes:
            self._vertex(vertex)
        for entry in status.logs:
            step = self.steps.get(entry.vertex)
            if step is None:
                continue
            text = step.log_tail + entry.msg.decode("utf-8", "replace")
            *lines, step.log_tail = text.split("\n")
            for line in lines:
                self.line(f"#{step.number} {line.rstrip()}")

    def finish(self) -> None:
        """Flush output lines that never got their newline."""
        for step in self.steps.values():
            self._flush(step)

    def _flush(self, step: _Step) -> None:
        if step.log_tail.strip():
            self.line(f"#{step.number} {step.log_tail.rstrip()}")
        step.log_tail = ""

    def _vertex(self, vertex: Vertex) -> None:
        step = self.steps.get(vertex.digest)
        if step is None:
            step = self.steps[vertex.digest] = _Step(len(self.steps) + 1, vertex)
        else:
            step.vertex = vertex
        if (vertex.started is not None or vertex.cached) and not step.shown_start:
            step.shown_start = True
            self.line(f"#{step.number} {vertex.name}")
        if step.done or not (vertex.completed is not None or vertex.cached or vertex.error):
            return
        step.done = True
        self._flush(step)
        if vertex.error:
            self.errors.append(vertex.error)
            self.line(f"#{step.number} ERROR: {vertex.error}")
            if self.mode == "tty":
                self.progress(f"#{step.number} {vertex.name}  ERROR")
            return
        elapsed = _elapsed(vertex)
        self.line(f"#{step.number} CACHED" if vertex.cached else f"#{step.number} DONE {elapsed}")
        if self.mode == "tty":
            self.progress(f"#{step.number} {vertex.name}  {'CACHED' if vertex.cached else elapsed}")

    def line(self, line: str) -> None:
        if len(self.log) < LOG_LIMIT:
            self.log.append(line)
        elif len(self.log) == LOG_LIMIT:
            self.log.append(f"... (log cut at {LOG_LIMIT} lines)")
        if self.mode == "plain":
            self.progress(line)


def _elapsed(vertex: Vertex) -> str:
    if vertex.started is None or vertex.completed is None:
        return "0.0s"
    return f"{max(0.0, vertex.completed - vertex.started):.1f}s"


def decode_trace(aux: Any) -> StatusResponse | None:
    """The StatusResponse of a trace message's `aux`, or None when it is not one."""
    if not isinstance(aux, str):
        return None
    try:
        return decode_status(base64.b64decode(aux, validate=True))
    except (binascii.Error, ProtobufError):
        return None


@dataclass
class BuildResult:
    """What a build stream said: its error (None on success) and the image ID it reported."""

    error: str | None = None
    image_id: str | None = None


def follow_stream(messages: Iterable[Mapping[str, Any]], display: BuildDisplay) -> BuildResult:
    """Consume a build's JSON messages (BuildKit traces; legacy `stream` lines from an engine
    that ignored version=2 are shown as they are)."""
    result = BuildResult()
    for message in messages:
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail") or {}
            result.error = str(message.get("error") or detail.get("message") or "unknown error")
            break
        if message.get("id") == TRACE_ID:
            status = decode_trace(message.get("aux"))
            if status is not None:
                display.feed(status)
            continue
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            result.image_id = str(aux["ID"])
        text = message.get("stream")
        if isinstance(text, str):
            for line in text.splitlines():
                if line.strip():
                    display.line(line.rstrip())
    display.finish()
    if result.error is not None and display.errors and display.errors[-1] not in result.error:
        result.error = f"{result.error} ({display.errors[-1]})"
    return result


def build_params(
    tag: str,
    dockerfile: str,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
    target: str | None,
) -> dict[str, str]:
    """The query of `POST /build` for a BuildKit build."""
    params = {
        "version": "2",
        "t": tag,
        "dockerfile": dockerfile,
        "buildargs": json.dumps(dict(buildargs)),
        "labels": json.dumps(dict(labels)),
        "rm": "1",
        "forcerm": "1",
    }
    if target:
        params["target"] = target
    return params


def post_build(
    client: docker.DockerClient, context: IO[bytes], params: Mapping[str, str], timeout: int = 3600
) -> Iterable[dict[str, Any]]:
    """Send the build request; its JSON messages as they arrive. Raises docker.errors.APIError
    when the engine refuses the request (e.g. an engine without BuildKit)."""
    api = client.api
    headers = {"Content-Type": "application/x-tar"}
    api._set_auth_headers(headers)  # registry credentials, as docker-py's own build sends them
    response = api._post(
        api._url("/build"), data=context, params=dict(params), headers=headers, stream=True,
        timeout=timeout,
    )
    api._raise_for_status(response)
    stream: Iterable[dict[str, Any]] = api._stream_helper(response, decode=True)
    return stream
