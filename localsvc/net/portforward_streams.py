"""The kubelet's side of a port-forward SPDY connection, as a state machine without I/O.

kubectl opens, per forwarded TCP connection, two streams carrying the headers streamtype
("error" or "data"), port and requestID; the kubelet replies to each, pairs them by requestID
and, once both are there, connects to the pod's port. Bytes on the data stream go to the pod,
the pod's bytes come back on it; a failure is written as text on the error stream. Both streams
end with FIN. kubectl resets the data stream when it is done with it.

`PortForwardStreams.receive(frame)` returns what the I/O layer must do (`Action`s); the
`data`/`finish` methods return the frames to send for a pair. spdystream (kubectl's SPDY) does
no flow control: it neither sends nor honours WINDOW_UPDATE, so none is sent or awaited here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from localsvc.net import spdy

PROTOCOL = "portforward.k8s.io"
WEBSOCKET_PROTOCOL = f"SPDY/3.1+{PROTOCOL}"
# The most read from the pod at once, so the largest DATA frame sent: fewer, larger frames
# cost less per byte here; spdystream takes any size up to 16 MiB.
CHUNK = 128 * 1024


@dataclass
class Pair:
    """One forwarded connection: its two streams and the pod port."""

    request_id: str
    port: int = 0
    error_stream: int = 0
    data_stream: int = 0
    opened: bool = False
    finished: bool = False

    @property
    def complete(self) -> bool:
        return bool(self.error_stream and self.data_stream)


@dataclass(frozen=True)
class Send:
    frame: spdy.Frame


@dataclass(frozen=True)
class Open:
    """Both streams are there: connect to the pod's port."""

    pair: Pair


@dataclass(frozen=True)
class Deliver:
    pair: Pair
    data: bytes


@dataclass(frozen=True)
class EndOfInput:
    """kubectl will send no more on the data stream: half-close towards the pod."""

    pair: Pair


@dataclass(frozen=True)
class Abort:
    """kubectl reset the data stream: drop the pod connection."""

    pair: Pair


@dataclass(frozen=True)
class Shutdown:
    """GOAWAY: kubectl is closing the connection."""


Action = Send | Open | Deliver | EndOfInput | Abort | Shutdown


def _header(headers: spdy.Headers, name: str) -> str:
    values = headers.get(name.lower()) or [""]
    return values[0]


def parse_port(text: str) -> int | None:
    """The port header's value as the kubelet accepts it: a number 1-65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        return None
    return int(text)


def request_id_of(stream_id: int, headers: spdy.Headers, stream_type: str) -> str:
    """The pairing key. kubectl always sends requestID; the kubelet derives one from the stream
    id for older clients (the error stream opens 2 ids before its data stream)."""
    given = _header(headers, "requestID")
    if given:
        return given
    return str(stream_id - 2 if stream_type == "data" else stream_id)


@dataclass
class PortForwardStreams:
    pairs: dict[str, Pair] = field(default_factory=dict)
    by_stream: dict[int, Pair] = field(default_factory=dict)
    last_stream_id: int = 0  # the last stream accepted: a GOAWAY's last-good-stream-id

    def receive(self, frame: spdy.Frame) -> list[Action]:
        if isinstance(frame, spdy.SynStream):
            return self._open_stream(frame)
        if isinstance(frame, spdy.DataFrame):
            return self._data(frame)
        if isinstance(frame, spdy.RstStream):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_stream:
                return [Abort(pair)]
            return []
        if isinstance(frame, spdy.Ping):
            # Echo the peer's pings (odd ids, kubectl is the client); ours would be even.
            return [Send(frame)] if frame.ping_id % 2 == 1 else []
        if isinstance(frame, spdy.GoAway):
            return [Shutdown()]
        # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY, unknown types: nothing to do.
        return []

    def _open_stream(self, frame: spdy.SynStream) -> list[Action]:
        reject: list[Action] = [Send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))]
        if frame.stream_id in self.by_stream:
            return [Send(spdy.RstStream(frame.stream_id, spdy.INVALID_STREAM))]
        stream_type = _header(frame.headers, "streamType")
        port = parse_port(_header(frame.headers, "port"))
        if stream_type not in ("error", "data") or port is None:
            return reject
        request_id = request_id_of(frame.stream_id, frame.headers, stream_type)
        pair = self.pairs.setdefault(request_id, Pair(request_id, port))
        slot = "error_stream" if stream_type == "error" else "data_stream"
        if getattr(pair, slot) or pair.opened:
            return reject
        setattr(pair, slot, frame.stream_id)
        self.by_stream[frame.stream_id] = pair
        self.last_stream_id = max(self.last_stream_id, frame.stream_id)
        actions: list[Action] = [Send(spdy.SynReply(frame.stream_id))]
        if pair.complete:
            pair.opened = True
            actions.append(Open(pair))
        return actions

    def _data(self, frame: spdy.DataFrame) -> list[Action]:
        pair = self.by_stream.get(frame.stream_id)
        if pair is None or frame.stream_id != pair.data_stream or pair.finished:
            return []  # the error stream carries nothing from kubectl but its FIN
        actions: list[Action] = []
        if frame.data:
            actions.append(Deliver(pair, frame.data))
        if frame.fin:
            actions.append(EndOfInput(pair))
        return actions

    def data(self, pair: Pair, payload: bytes) -> list[spdy.Frame]:
        """The pod's bytes as DATA frames on the pair's data stream."""
        return [spdy.DataFrame(pair.data_stream, payload[i:i + CHUNK])
                for i in range(0, len(payload), CHUNK)]

    def finish(self, pair: Pair, error: str = "") -> list[spdy.Frame]:
        """Frames ending the pair: the error text (if any) then FIN on both streams (the
        kubelet closes the error stream first), and forget the pair."""
        if pair.finished:
            return []
        pair.finished = True
        self.pairs.pop(pair.request_id, None)
        self.by_stream.pop(pair.error_stream, None)
        self.by_stream.pop(pair.data_stream, None)
        frames: list[spdy.Frame] = []
        if error:
            frames.append(spdy.DataFrame(pair.error_stream, error.encode()))
        frames += [spdy.DataFrame(pair.error_stream, fin=True),
                   spdy.DataFrame(pair.data_stream, fin=True)]
        return frames


def connect_error(port: int, sandbox_id: str, netns: str, address: str, reason: str) -> str:
    """The text the kubelet writes on the error stream when the pod refuses: containerd's error
    (it dials localhost inside the pod's namespace; the node dials the pod's IP) wrapped by the
    kubelet, which with CRI names the pod by its sandbox id and leaves the uid empty."""
    return (f"error forwarding port {port} to pod {sandbox_id}, uid : failed to execute "
            f"portforward in network namespace \"{netns}\": failed to connect to "
            f"{address}:{port} inside namespace \"{sandbox_id}\", IPv4: dial tcp4 "
            f"{address}:{port}: {reason} ")
