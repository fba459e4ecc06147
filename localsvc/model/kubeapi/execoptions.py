"""PodExecOptions and PodAttachOptions from the query of a pods/exec or pods/attach request. Pure.

The query codec and the container rule (strategy.go streamLocation, the same as pods/log's) are
model/kubeapi/connectquery.py's; the rules and texts here are the kubelet's (at least one of
stdin, stdout, stderr; a command for exec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import (Query, bare_container_id, container_spec,
                                                 container_status, query_bool, query_str)


@dataclass(frozen=True)
class StreamOptions:
    container: str  # as asked ("" when the query names none)
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    command: tuple[str, ...] = ()


def exec_options(query: Query) -> StreamOptions:
    """The options of an exec; ApiError(BadRequest) for a request the kubelet refuses."""
    options = _streams(query)
    command = tuple(query.get("command") or ())
    if not command:
        raise ApiError(st.bad_request("you must specify at least one command for the container"))
    return StreamOptions(options.container, options.stdin, options.stdout, options.stderr,
                         options.tty, command)


def attach_options(query: Query) -> StreamOptions:
    return _streams(query)


def _streams(query: Query) -> StreamOptions:
    # PodExecOptions and PodAttachOptions: stdout and stderr default to true, stdin to false.
    stdin = query_bool(query, "stdin")
    stdout = query_bool(query, "stdout", True)
    stderr = query_bool(query, "stderr", True)
    tty = query_bool(query, "tty")
    if not (stdin or stdout or stderr):
        raise ApiError(st.bad_request("you must specify at least 1 of stdin, stdout, stderr"))
    # With a TTY the terminal merges stderr into stdout: there is no separate stream.
    return StreamOptions(query_str(query, "container"), stdin, stdout,
                         stderr and not tty, tty)


@dataclass(frozen=True)
class StreamTarget:
    """The Docker container a session reaches, and the settings its spec gave it."""

    container_id: str
    tty: bool  # created with a TTY: its attach stream is raw, not multiplexed
    stdin: bool  # created with stdin open: attach may write to it


def running_target(pod: Mapping[str, Any], container: str) -> StreamTarget | None:
    """The running instance of `container` as the pod's status names it (the kubelet reads its
    own status the same way); None when the status says it is not running. A status that lags
    behind the engine (the container just ended) is caught by the engine's own refusal."""
    status = container_status(pod, container) or {}
    container_id = bare_container_id(status.get("containerID"))
    if "running" not in (status.get("state") or {}) or not container_id:
        return None
    spec = container_spec(pod, container)
    return StreamTarget(container_id, bool(spec.get("tty")), bool(spec.get("stdin")))


def container_not_found(container: str) -> str:
    """The kubelet's words for a container of the spec that is not running now."""
    return f'unable to upgrade connection: container not found ("{container}")'


def protocols_not_supported(offered: Sequence[str], served: Sequence[str]) -> dict[str, Any]:
    """A WebSocket request offering only subprotocols the node does not serve (wsstream's
    handshake error; base64.channel.k8s.io is one)."""
    return st.bad_request(f"requested protocol(s) are not supported: [{' '.join(offered)}]; "
                          f"supports [{' '.join(served)}]")


def websocket_required(subresource: str) -> dict[str, Any]:
    """The answer to a request that is not a WebSocket upgrade (a SPDY upgrade, kubectl's
    fallback, or a plain request): a Status that says what the node serves."""
    return st.bad_request(
        f"pods/{subresource}: localsvc serves this subresource over WebSocket only "
        "(subprotocols v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, "
        "v2.channel.k8s.io, channel.k8s.io); send a GET with Upgrade: websocket "
        "(kubectl 1.30 and later do); SPDY is not served")
