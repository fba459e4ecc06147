"""SPDY/3 framing (draft 3, as moby/spdystream speaks it for kubectl's port-forward).

Pure protocol code, no I/O: `Framer.feed` turns a byte stream (which may arrive in pieces of
any size: kubectl's WebSocket tunnel sends each Go write as its own message) into typed frames,
and `Framer.encode` turns frames into bytes. Header blocks are zlib-compressed with the SPDY/3
dictionary, one compression context per direction for the whole connection, so the framer must
see every frame of its connection, in order.

Layout (big-endian):
  control frame: 1 bit control=1 | 15 bits version=3 | 16 bits type | 8 bits flags | 24 bits length
  data frame:    1 bit control=0 | 31 bits stream id              | 8 bits flags | 24 bits length
  header block:  u32 count, then per header u32 name length, name, u32 value length, value
                 (names lowercase; several values of one name joined by NUL).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from localsvc.net.spdy_dictionary import HEADER_DICTIONARY

VERSION = 3
CONTROL_BIT = 0x8000_0000
STREAM_ID_MASK = 0x7FFF_FFFF
LENGTH_MASK = 0x00FF_FFFF
MAX_DATA_LENGTH = LENGTH_MASK
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

# The most a header block may hold once decompressed: Go's net/http default for a request's
# headers (http.DefaultMaxHeaderBytes). kubectl's blocks are a few dozen bytes; a zlib bomb
# would otherwise inflate without bound inside the node.
MAX_HEADER_BLOCK = 1 << 20

# GOAWAY status codes.
GOAWAY_PROTOCOL_ERROR = 1

# RST_STREAM status codes.
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
CANCEL = 5

Headers = dict[str, list[str]]


class SpdyError(ValueError):
    """The peer sent bytes that are not SPDY/3: the connection cannot go on."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame type SPDY/3 does not define: the spec says to ignore it."""

    frame_type: int
    flags: int
    payload: bytes


Frame = (DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame
         | WindowUpdate | UnknownControl)


def pack_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block: names lowercased, several values joined by NUL."""
    parts = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        encoded_name = name.lower().encode()
        value = "\x00".join(values).encode()
        parts += [struct.pack(">I", len(encoded_name)), encoded_name,
                  struct.pack(">I", len(value)), value]
    return b"".join(parts)


def unpack_header_block(block: bytes) -> Headers:
    """Headers of an uncompressed block; SpdyError when it is truncated or has extra bytes."""
    view = memoryview(block)
    offset = 0

    def take(size: int) -> bytes:
        nonlocal offset
        if offset + size > len(view):
            raise SpdyError(f"header block truncated at byte {offset} (needs {size} more)")
        chunk = bytes(view[offset:offset + size])
        offset += size
        return chunk

    headers: Headers = {}
    (count,) = struct.unpack(">I", take(4))
    for _ in range(count):
        (name_length,) = struct.unpack(">I", take(4))
        name = take(name_length).decode("latin-1").lower()
        (value_length,) = struct.unpack(">I", take(4))
        value = take(value_length).decode("latin-1")
        headers.setdefault(name, []).extend(value.split("\x00"))
    if offset != len(view):
        raise SpdyError(f"header block has {len(view) - offset} bytes after its {count} headers")
    return headers


class HeaderCompressor:
    """One direction's zlib stream: each block ends with a sync flush so the peer can
    decompress it whole, while the dictionary and history carry over to the next block."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=HEADER_DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        block = pack_header_block(headers)
        return self._zlib.compress(block) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self, max_block: int = MAX_HEADER_BLOCK) -> None:
        self._zlib = zlib.decompressobj(15, zdict=HEADER_DICTIONARY)
        self._max_block = max_block

    def decompress(self, compressed: bytes) -> Headers:
        """The block's headers; SpdyError when it does not decompress or inflates past the
        limit (a session error: the context is lost for every later block anyway)."""
        try:
            # One byte more than allowed: getting it proves the block is too large, without
            # inflating the rest.
            block = self._zlib.decompress(compressed, self._max_block + 1)
        except zlib.error as error:
            raise SpdyError(f"header block does not decompress: {error}") from None
        if len(block) > self._max_block:
            raise SpdyError(f"header block inflates past {self._max_block} bytes")
        return unpack_header_block(block)


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type,
                       (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes = b"", fin: bool = False) -> bytes:
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError(f"data frame of {len(data)} bytes exceeds {MAX_DATA_LENGTH}")
    flags = FLAG_FIN if fin else 0
    return struct.pack(">II", stream_id & STREAM_ID_MASK, (flags << 24) | len(data)) + data


class Framer:
    """Both directions of one SPDY connection: parses what the peer sends, encodes ours."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()

    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by `data` (a partial frame waits for the next feed)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer)
            length = second & LENGTH_MASK
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if first & CONTROL_BIT:
                frames.append(self._control_frame(first, flags, payload))
            else:
                stream_id = first & STREAM_ID_MASK
                if stream_id == 0:
                    raise SpdyError("data frame on stream 0")
                frames.append(DataFrame(stream_id, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control_frame(self, first: int, flags: int, payload: bytes) -> Frame:
        version = (first >> 16) & 0x7FFF
        frame_type = first & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"SPDY version {version} (only 3 is spoken)")
        fin = bool(flags & FLAG_FIN)
        try:
            if frame_type == SYN_STREAM:
                stream_id, associated, priority = struct.unpack_from(">IIB", payload)
                headers = self._decompressor.decompress(payload[10:])
                return SynStream(stream_id & STREAM_ID_MASK, headers, associated & STREAM_ID_MASK,
                                 priority >> 5, fin, bool(flags & FLAG_UNIDIRECTIONAL))
            if frame_type in (SYN_REPLY, HEADERS):
                (stream_id,) = struct.unpack_from(">I", payload)
                headers = self._decompressor.decompress(payload[4:])
                kind = SynReply if frame_type == SYN_REPLY else HeadersFrame
                return kind(stream_id & STREAM_ID_MASK, headers, fin)
            if frame_type == RST_STREAM:
                stream_id, status = struct.unpack(">II", payload)
                return RstStream(stream_id & STREAM_ID_MASK, status)
            if frame_type == SETTINGS:
                (count,) = struct.unpack_from(">I", payload)
                entries = tuple((word >> 24, word & LENGTH_MASK, value) for word, value in
                                struct.iter_unpack(">II", payload[4:4 + 8 * count]))
                return Settings(entries, bool(flags & 0x01))
            if frame_type == PING:
                return Ping(struct.unpack(">I", payload)[0])
            if frame_type == GOAWAY:
                last, status = struct.unpack(">II", payload)
                return GoAway(last & STREAM_ID_MASK, status)
            if frame_type == WINDOW_UPDATE:
                stream_id, delta = struct.unpack(">II", payload)
                return WindowUpdate(stream_id & STREAM_ID_MASK, delta & STREAM_ID_MASK)
        except struct.error:
            raise SpdyError(f"control frame type {frame_type} has a {len(payload)}-byte "
                            f"payload, too short") from None
        return UnknownControl(frame_type, flags, payload)

    def encode(self, frame: Frame) -> bytes:
        """The bytes of `frame`; header blocks go through this connection's compressor, so
        frames must be sent in the order they are encoded."""
        if isinstance(frame, DataFrame):
            return encode_data(frame.stream_id, frame.data, frame.fin)
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        if isinstance(frame, SynStream):
            flags = fin | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            head = struct.pack(">IIBB", frame.stream_id, frame.associated_id,
                               (frame.priority & 0x07) << 5, 0)
            return _control(SYN_STREAM, flags, head + self._compressor.compress(frame.headers))
        if isinstance(frame, SynReply | HeadersFrame):
            frame_type = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            return _control(frame_type, fin, struct.pack(">I", frame.stream_id)
                            + self._compressor.compress(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = b"".join(struct.pack(">II", (flag << 24) | ident, value)
                            for flag, ident, value in frame.entries)
            return _control(SETTINGS, 0x01 if frame.clear else 0,
                            struct.pack(">I", len(frame.entries)) + body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id,
                                                   frame.status))
        if isinstance(frame, WindowUpdate):
            return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        return _control(frame.frame_type, frame.flags, frame.payload)
