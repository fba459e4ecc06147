"""Decode BuildKit's progress: the protobuf `StatusResponse` (moby/buildkit
api/services/control/control.proto) that the engine sends base64-encoded as the `aux` of
`moby.buildkit.trace` messages, read with the wire-format reader the Kubernetes API's protobuf
uses (model/kubeapi/protowire): only the fields the progress display needs, unknown fields
skipped, so newer engines with more fields still decode.

    StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2;
                     repeated VertexLog logs = 3; }
    Vertex       { string digest = 1; repeated string inputs = 2; string name = 3; bool cached = 4;
                   Timestamp started = 5; Timestamp completed = 6; string error = 7; }
    VertexStatus { string ID = 1; string vertex = 2; string name = 3; int64 current = 4;
                   int64 total = 5; Timestamp timestamp = 6; started = 7; completed = 8; }
    VertexLog    { string vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
    Timestamp    { int64 seconds = 1; int32 nanos = 2; }
"""

from __future__ import annotations

from dataclasses import dataclass, field

# fields, read_varint and ProtobufError are this module's reader, as callers import them.
from localsvc.model.kubeapi.protowire import LENGTH_DELIMITED, ProtobufError, fields, read_varint

__all__ = ["ProtobufError", "StatusResponse", "Vertex", "VertexLog", "VertexStatus",
           "decode_status", "decode_timestamp", "fields", "read_varint"]


@dataclass
class Vertex:
    digest: str = ""
    inputs: list[str] = field(default_factory=list)
    name: str = ""
    cached: bool = False
    started: float | None = None  # seconds since the epoch
    completed: float | None = None
    error: str = ""


@dataclass
class VertexStatus:
    id: str = ""
    vertex: str = ""
    name: str = ""
    current: int = 0
    total: int = 0
    completed: float | None = None


@dataclass
class VertexLog:
    vertex: str = ""
    stream: int = 0  # 1 stdout, 2 stderr
    msg: bytes = b""


@dataclass
class StatusResponse:
    vertexes: list[Vertex] = field(default_factory=list)
    statuses: list[VertexStatus] = field(default_factory=list)
    logs: list[VertexLog] = field(default_factory=list)


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        return 0
    return value - (1 << 64) if value >= 1 << 63 else value  # int64 two's complement


def decode_timestamp(data: bytes) -> float:
    seconds = nanos = 0
    for number, _, value in fields(data):
        if number == 1:
            seconds = _int(value)
        elif number == 2:
            nanos = _int(value)
    return seconds + nanos / 1e9


def _timestamp(value: int | bytes) -> float | None:
    return decode_timestamp(value) if isinstance(value, bytes) else None


def decode_vertex(data: bytes) -> Vertex:
    vertex = Vertex()
    for number, _, value in fields(data):
        if number == 1:
            vertex.digest = _text(value)
        elif number == 2:
            vertex.inputs.append(_text(value))
        elif number == 3:
            vertex.name = _text(value)
        elif number == 4:
            vertex.cached = bool(_int(value))
        elif number == 5:
            vertex.started = _timestamp(value)
        elif number == 6:
            vertex.completed = _timestamp(value)
        elif number == 7:
            vertex.error = _text(value)
    return vertex


def decode_vertex_status(data: bytes) -> VertexStatus:
    status = VertexStatus()
    for number, _, value in fields(data):
        if number == 1:
            status.id = _text(value)
        elif number == 2:
            status.vertex = _text(value)
        elif number == 3:
            status.name = _text(value)
        elif number == 4:
            status.current = _int(value)
        elif number == 5:
            status.total = _int(value)
        elif number == 8:
            status.completed = _timestamp(value)
    return status


def decode_vertex_log(data: bytes) -> VertexLog:
    log = VertexLog()
    for number, _, value in fields(data):
        if number == 1:
            log.vertex = _text(value)
        elif number == 3:
            log.stream = _int(value)
        elif number == 4 and isinstance(value, bytes):
            log.msg = value
    return log


def decode_status(data: bytes) -> StatusResponse:
    """A StatusResponse from its serialized bytes."""
    response = StatusResponse()
    for number, wire, value in fields(data):
        if wire != LENGTH_DELIMITED or not isinstance(value, bytes):
            continue
        if number == 1:
            response.vertexes.append(decode_vertex(value))
        elif number == 2:
            response.statuses.append(decode_vertex_status(value))
        elif number == 3:
            response.logs.append(decode_vertex_log(value))
    return response
