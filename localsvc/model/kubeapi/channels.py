"""The channel protocol of pods/exec and pods/attach over WebSocket, and Docker's stream framing.
Pure: bytes in, bytes or decisions out.

Kubernetes (k8s.io/apimachinery/pkg/util/httpstream/wsstream, client-go tools/remotecommand):
every binary message starts with one byte naming its channel (0 stdin, 1 stdout, 2 stderr,
3 error, 4 resize). From v4 the error channel carries a JSON metav1.Status at the end of the
session (Success, or Failure with reason NonZeroExitCode and the code as a cause), from v3 the
resize channel carries {"Width": w, "Height": h}, and v5 adds the CLOSE signal: the message
[255, channel] says that the client will send no more on that channel (stdin's end).

Docker's side of a non-TTY exec or attach multiplexes stdout and stderr in frames with an 8-byte
header (stream byte, 3 zero bytes, big-endian uint32 length); a TTY stream is raw bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi import status as st

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255  # v5: [255, channel] closes the client's side of `channel`

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
# Every subprotocol served, newest first; a client that names none speaks V1 (wsstream's "").
PROTOCOLS = (V5, V4, V3, V2, V1)

NON_ZERO_EXIT_REASON = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"

_DOCKER_HEADER = struct.Struct(">BxxxI")


def has_status_channel(protocol: str) -> bool:
    """v4 and v5 end the session with a JSON Status on the error channel; older protocols send
    an error's text only, and nothing on success."""
    return protocol in (V4, V5)


def has_close_signal(protocol: str) -> bool:
    return protocol == V5


def frame(channel: int, data: bytes) -> bytes:
    """One message of `channel`."""
    return bytes((channel,)) + data


@dataclass(frozen=True)
class Message:
    """A client message: data for a channel, or (v5) the close of a channel."""

    channel: int
    data: bytes = b""
    close: bool = False


def parse_message(protocol: str, data: bytes) -> Message | None:
    """A binary message from the client; None for an empty one (ignored, as wsstream does)."""
    if not data:
        return None
    if data[0] == CLOSE_SIGNAL and has_close_signal(protocol):
        if len(data) < 2:
            return None
        return Message(data[1], close=True)
    return Message(data[0], data[1:])


class ResizeError(ValueError):
    pass


def parse_resize(data: bytes) -> tuple[int, int]:
    """(width, height) of a resize message, {"Width": 80, "Height": 24}."""
    try:
        size = json.loads(data)
        width, height = int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, TypeError, AttributeError) as err:
        raise ResizeError(f"resize message {data[:100]!r} is not {{\"Width\":..,\"Height\":..}}:"
                          f" {err}") from None
    if not (0 <= width <= 0xFFFF and 0 <= height <= 0xFFFF):
        raise ResizeError(f"resize to {width}x{height}: each side must be 0-65535")
    return width, height


class ResizeBuffer:
    """Resize messages as they come: a client may split one JSON object across messages, or
    send several in one (client-go encodes each with a json.Encoder, one after the other)."""

    def __init__(self) -> None:
        self._pending = b""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        self._pending += data
        sizes: list[tuple[int, int]] = []
        while True:
            text = self._pending.decode("utf-8", "replace").lstrip()
            if not text:
                self._pending = b""
                return sizes
            try:
                _, end = self._decoder.raw_decode(text)
            except ValueError:
                if len(self._pending) > 4096:  # garbage, not a size still arriving
                    self._pending = b""
                    raise ResizeError(f"resize message {text[:100]!r} is not JSON") from None
                return sizes
            self._pending = text[end:].encode()
            sizes.append(parse_resize(text[:end].encode()))


# ---- the error channel's Status (kubelet's remotecommand, json.Marshal of metav1.Status) ----

def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: Sequence[str]) -> dict[str, Any]:
    """A command that ended with a non-zero code: kubectl exits with that code."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   f"[{' '.join(command)}], exit code {code}",
        "reason": NON_ZERO_EXIT_REASON,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def internal_error_status(error: str) -> dict[str, Any]:
    """A failure that is not the command's code (apierrors.NewInternalError), as the error
    channel carries it: without kind and apiVersion (the Status's empty TypeMeta is omitted)."""
    return {key: value for key, value in st.internal_error(error).items()
            if key not in ("kind", "apiVersion")}


def error_payload(protocol: str, status: dict[str, Any]) -> bytes:
    """What the error channel carries for `status`: the JSON Status (v4, v5); for older
    protocols the failure's text, and nothing on success."""
    if has_status_channel(protocol):
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()


# ---- Docker's multiplexed stream ---------------------------------------------------------------

class DockerDemuxer:
    """Docker's 8-byte-header frames (stdcopy: exec, attach and log streams), fed in arbitrary
    chunks, out as (stream, bytes): stream 1 stdout, 2 stderr (0, stdin, comes back for some
    engines: treated as stdout). The one decoder of that framing (net/dockerlogframes uses it)."""

    def __init__(self) -> None:
        self._buffer = b""

    def frames(self, data: bytes | bytearray) -> list[tuple[int, bytes]]:
        """Each whole frame's (stream, payload) in order; empty frames are left out. `data` is
        not kept: a caller may reuse its bytearray."""
        buffer = self._buffer + data if self._buffer else data
        frames: list[tuple[int, bytes]] = []
        start = 0  # an offset, not a slice per frame: a chunk holds many small frames
        while len(buffer) - start >= _DOCKER_HEADER.size:
            stream, length = _DOCKER_HEADER.unpack_from(buffer, start)
            end = start + _DOCKER_HEADER.size + length
            if len(buffer) < end:
                break
            if length:
                frames.append((STDERR if stream == 2 else STDOUT,
                               bytes(buffer[start + _DOCKER_HEADER.size:end])))
            start = end
        self._buffer = bytes(buffer[start:])
        return frames

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The frames as runs: one (stream, bytes) for each run of one stream's frames (one
        WebSocket message each, not one per frame)."""
        runs: list[tuple[int, list[bytes]]] = []
        for channel, payload in self.frames(data):
            if runs and runs[-1][0] == channel:
                runs[-1][1].append(payload)
            else:
                runs.append((channel, [payload]))
        return [(channel, b"".join(parts)) for channel, parts in runs]
