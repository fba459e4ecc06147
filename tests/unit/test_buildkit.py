"""BuildKit progress: the protobuf reader on bytes built here by hand, and the progress display."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localsvc.runtime import buildkit
from localsvc.runtime.buildkit_status import (
    ProtobufError,
    decode_status,
    decode_timestamp,
    fields,
    read_varint,
)


# ---- a minimal protobuf writer, independent of the reader under test ------------------------

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vint(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def vbytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return key(number, 2) + varint(len(data)) + data


def timestamp(seconds: int, nanos: int = 0) -> bytes:
    return vint(1, seconds) + (vint(2, nanos) if nanos else b"")


def vertex(digest: str, name: str, *, started: float | None = None,
           completed: float | None = None, cached: bool = False, error: str = "") -> bytes:
    out = vbytes(1, digest) + vbytes(2, "sha256:input") + vbytes(3, name)
    if cached:
        out += vint(4, 1)
    if started is not None:
        out += vbytes(5, timestamp(int(started), round(started % 1 * 1e9)))
    if completed is not None:
        out += vbytes(6, timestamp(int(completed), round(completed % 1 * 1e9)))
    if error:
        out += vbytes(7, error)
    return out


def log(digest: str, msg: bytes, stream: int = 1) -> bytes:
    return vbytes(1, digest) + vbytes(2, timestamp(5)) + vint(3, stream) + vbytes(4, msg)


def status(*, vertexes: list[bytes] = (), logs: list[bytes] = (),  # type: ignore[assignment]
           statuses: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    return (b"".join(vbytes(1, v) for v in vertexes) + b"".join(vbytes(2, s) for s in statuses)
            + b"".join(vbytes(3, entry) for entry in logs))


def trace(data: bytes) -> dict[str, Any]:
    return {"id": "moby.buildkit.trace", "aux": base64.b64encode(data).decode()}


# ---- the reader -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1])
def test_varints_round_trip(value: int) -> None:
    data = varint(value) + b"\xff"
    assert read_varint(data, 0) == (value, len(data) - 1)


def test_truncated_input_is_an_error() -> None:
    with pytest.raises(ProtobufError, match="truncated varint"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtobufError, match="past the end"):
        list(fields(key(1, 2) + varint(10) + b"abc"))
    with pytest.raises(ProtobufError, match="wire type 3"):
        list(fields(key(1, 3)))


def test_fixed_width_and_unknown_fields_are_skipped() -> None:
    data = (key(9, 1) + (7).to_bytes(8, "little") + key(10, 5) + (3).to_bytes(4, "little")
            + vint(11, 5) + vbytes(12, b"future") + vbytes(1, vertex("d1", "step")))
    decoded = decode_status(data)
    assert [v.name for v in decoded.vertexes] == ["step"]


def test_timestamp_and_negative_int64() -> None:
    assert decode_timestamp(timestamp(1700000000, 500_000_000)) == pytest.approx(1700000000.5)
    assert decode_timestamp(vint(1, -2)) == -2


def test_decode_status_response() -> None:
    vertex_status = (vbytes(1, "layer1") + vbytes(2, "d2") + vbytes(3, "extracting") + vint(4, 50)
                     + vint(5, 100) + vbytes(8, timestamp(12)))
    data = status(
        vertexes=[vertex("d1", "[1/2] FROM base", started=10.25, completed=11.5),
                  vertex("d2", "[2/2] RUN make", cached=True),
                  vertex("d3", "[3/3] RUN false", error="exit code: 1")],
        statuses=[vertex_status],
        logs=[log("d2", b"hello\n", stream=2)],
    )
    decoded = decode_status(data)
    first, second, third = decoded.vertexes
    assert (first.digest, first.name, first.inputs, first.cached) == (
        "d1", "[1/2] FROM base", ["sha256:input"], False)
    assert first.started == pytest.approx(10.25) and first.completed == pytest.approx(11.5)
    assert second.cached and second.started is None
    assert third.error == "exit code: 1"
    (vs,) = decoded.statuses
    assert (vs.id, vs.vertex, vs.name, vs.current, vs.total, vs.completed) == (
        "layer1", "d2", "extracting", 50, 100, 12)
    (entry,) = decoded.logs
    assert (entry.vertex, entry.stream, entry.msg) == ("d2", 2, b"hello\n")


def test_decode_trace_rejects_what_is_not_a_status() -> None:
    assert buildkit.decode_trace({"ID": "x"}) is None
    assert buildkit.decode_trace("not base64!") is None
    assert buildkit.decode_trace(base64.b64encode(key(1, 3)).decode()) is None


# ---- the display ------------------------------------------------------------------------------

def _build(mode: str) -> tuple[list[str], buildkit.BuildDisplay, buildkit.BuildResult]:
    shown: list[str] = []
    display = buildkit.BuildDisplay(shown.append, mode)
    messages = [
        trace(status(vertexes=[vertex("d1", "[1/3] FROM base", started=1.0)])),
        trace(status(vertexes=[vertex("d1", "[1/3] FROM base", started=1.0, completed=1.5)])),
        trace(status(vertexes=[vertex("d2", "[2/3] RUN make", cached=True)])),
        trace(status(vertexes=[vertex("d3", "[3/3] RUN test", started=2.0)])),
        trace(status(logs=[log("d3", b"line one\npart")])),
        trace(status(logs=[log("d3", b"ial line\nno newline")])),
        trace(status(vertexes=[vertex("d3", "[3/3] RUN test", started=2.0, completed=4.25)])),
        {"id": "moby.image.id", "aux": {"ID": "sha256:abc"}},
        {"stream": "Successfully tagged t:1\n"},
    ]
    return shown, display, buildkit.follow_stream(messages, display)


def test_plain_mode_shows_every_line_like_progress_plain() -> None:
    shown, display, result = _build("plain")
    assert result.error is None and result.image_id == "sha256:abc"
    assert shown == [
        "#1 [1/3] FROM base", "#1 DONE 0.5s", "#2 [2/3] RUN make", "#2 CACHED",
        "#3 [3/3] RUN test", "#3 line one", "#3 partial line", "#3 no newline",
        "#3 DONE 2.2s", "Successfully tagged t:1",
    ]
    assert display.log == shown


def test_tty_mode_shows_one_line_per_finished_step_with_time_or_cached() -> None:
    shown, display, _ = _build("tty")
    assert shown == ["#1 [1/3] FROM base  0.5s", "#2 [2/3] RUN make  CACHED",
                     "#3 [3/3] RUN test  2.2s"]
    assert "#3 partial line" in display.log  # the whole log is still kept for an error


def test_a_failed_step_keeps_its_log_and_names_the_vertex_error() -> None:
    shown: list[str] = []
    display = buildkit.BuildDisplay(shown.append, "tty")
    messages = [
        trace(status(vertexes=[vertex("d1", "[2/2] RUN exit 3", started=1.0)])),
        trace(status(logs=[log("d1", b"the-cause-is-here\n", stream=2)])),
        trace(status(vertexes=[vertex("d1", "[2/2] RUN exit 3", started=1.0, completed=2.0,
                                      error="exit code: 3")])),
        {"errorDetail": {"message": "executor failed"}, "error": "executor failed"},
    ]
    result = buildkit.follow_stream(messages, display)
    assert result.error == "executor failed (exit code: 3)"
    assert shown == ["#1 [2/2] RUN exit 3  ERROR"]
    assert display.log == ["#1 [2/2] RUN exit 3", "#1 the-cause-is-here",
                           "#1 ERROR: exit code: 3"]


def test_the_kept_log_is_bounded() -> None:
    display = buildkit.BuildDisplay(lambda line: None, "tty")
    for n in range(buildkit.LOG_LIMIT + 5):
        display.line(str(n))
    assert len(display.log) == buildkit.LOG_LIMIT + 1 and "cut" in display.log[-1]


@pytest.mark.parametrize(("environ", "isatty", "mode"), [
    ({}, True, "tty"), ({}, False, "plain"), ({"CI": "true"}, True, "plain"),
    ({"CI": "false"}, True, "tty"), ({"CI": "1"}, True, "plain"),
])
def test_progress_mode(environ: dict[str, str], isatty: bool, mode: str) -> None:
    assert buildkit.progress_mode(environ, isatty) == mode


def test_build_params_ask_for_buildkit() -> None:
    params = buildkit.build_params("t:1", "Dockerfile", {"BASE": "b"}, {"l": "v"}, "dev")
    assert params["version"] == "2" and params["t"] == "t:1" and params["target"] == "dev"
    assert json.loads(params["buildargs"]) == {"BASE": "b"}
    assert json.loads(params["labels"]) == {"l": "v"}
    assert "target" not in buildkit.build_params("t:1", "Dockerfile", {}, {}, None)
