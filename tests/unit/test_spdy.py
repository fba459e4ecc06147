"""SPDY/3 framing: frames built by hand from the draft-3 layout, header blocks compressed by
plain zlib with the SPDY dictionary, round trips through two framers."""

from __future__ import annotations

import struct
import zlib

import pytest

from localsvc.net import spdy
from localsvc.net.spdy_dictionary import HEADER_DICTIONARY


def block(*pairs: tuple[bytes, bytes]) -> bytes:
    """An uncompressed header block, written out field by field."""
    out = struct.pack(">I", len(pairs))
    for name, value in pairs:
        out += struct.pack(">I", len(name)) + name + struct.pack(">I", len(value)) + value
    return out


def peer_compress(*blocks: bytes) -> list[bytes]:
    """Blocks compressed the way a Go peer does: one zlib stream, a sync flush per block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=HEADER_DICTIONARY)
    return [compressor.compress(b) + compressor.flush(zlib.Z_SYNC_FLUSH) for b in blocks]


def control(frame_type: int, flags: int, payload: bytes) -> bytes:
    return bytes([0x80, 0x03, 0x00, frame_type, flags]) + len(payload).to_bytes(3, "big") + payload


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(HEADER_DICTIONARY) == 1423
    assert HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert HEADER_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_data_frame_from_the_layout() -> None:
    raw = b"\x00\x00\x00\x05" + b"\x01\x00\x00\x03" + b"abc"
    assert spdy.Framer().feed(raw) == [spdy.DataFrame(5, b"abc", fin=True)]
    assert spdy.encode_data(5, b"abc", fin=True) == raw
    assert spdy.Framer().encode(spdy.DataFrame(7)) == b"\x00\x00\x00\x07\x00\x00\x00\x00"


def test_fixed_size_control_frames_from_the_layout() -> None:
    cases: list[tuple[bytes, spdy.Frame]] = [
        (control(6, 0, b"\x00\x00\x00\x01"), spdy.Ping(1)),
        (control(3, 0, b"\x00\x00\x00\x03\x00\x00\x00\x05"), spdy.RstStream(3, spdy.CANCEL)),
        (control(7, 0, b"\x00\x00\x00\x09\x00\x00\x00\x00"), spdy.GoAway(9, 0)),
        (control(9, 0, b"\x00\x00\x00\x01\x00\x01\x00\x00"), spdy.WindowUpdate(1, 65536)),
        (control(4, 0, b"\x00\x00\x00\x01" + b"\x01\x00\x00\x07" + b"\x00\x01\x00\x00"),
         spdy.Settings(((1, 7, 65536),))),
    ]
    framer = spdy.Framer()
    for raw, frame in cases:
        assert framer.feed(raw) == [frame]
        assert framer.encode(frame) == raw


def test_syn_stream_whose_headers_zlib_compressed_with_the_dictionary() -> None:
    first, second = peer_compress(
        block((b"streamtype", b"error"), (b"port", b"80"), (b"requestid", b"0")),
        block((b"streamtype", b"data"), (b"port", b"80"), (b"requestid", b"0")))
    head = struct.pack(">IIBB", 1, 0, 0, 0)
    framer = spdy.Framer()
    frames = framer.feed(control(1, 0, head + first)
                         + control(1, 0x01, struct.pack(">IIBB", 3, 0, 0x40, 0) + second))
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}),
        spdy.SynStream(3, {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]},
                       priority=2, fin=True),
    ]


def test_second_header_block_needs_the_connection_wide_context() -> None:
    _, second = peer_compress(block((b"port", b"80")), block((b"port", b"80")))
    with pytest.raises(spdy.SpdyError, match="does not decompress"):
        spdy.HeaderDecompressor().decompress(second)


def test_header_block_inflating_past_the_limit_is_a_spdy_error() -> None:
    huge = block((b"x-padding", b"a" * (spdy.MAX_HEADER_BLOCK + 1)))
    (compressed,) = peer_compress(huge)
    assert len(compressed) < 10_000  # a few KiB on the wire, over a MiB once inflated
    with pytest.raises(spdy.SpdyError, match="inflates past 1048576 bytes"):
        spdy.HeaderDecompressor().decompress(compressed)
    head = struct.pack(">IIBB", 1, 0, 0, 0)
    with pytest.raises(spdy.SpdyError, match="inflates past"):
        spdy.Framer().feed(control(1, 0, head + compressed))


def test_header_block_at_the_limit_decompresses() -> None:
    value = b"a" * 100
    exact = block((b"x-padding", value))
    (compressed,) = peer_compress(exact)
    decompressor = spdy.HeaderDecompressor(max_block=len(exact))
    assert decompressor.decompress(compressed) == {"x-padding": ["a" * 100]}
    (compressed,) = peer_compress(exact)
    with pytest.raises(spdy.SpdyError, match=f"inflates past {len(exact) - 1} bytes"):
        spdy.HeaderDecompressor(max_block=len(exact) - 1).decompress(compressed)


def test_header_block_lowercases_names_and_joins_values_with_nul() -> None:
    packed = spdy.pack_header_block({"X-Stream": ["a", "b"]})
    assert packed == block((b"x-stream", b"a\x00b"))
    assert spdy.unpack_header_block(packed) == {"x-stream": ["a", "b"]}


def test_header_block_with_extra_or_missing_bytes_is_refused() -> None:
    with pytest.raises(spdy.SpdyError, match="truncated"):
        spdy.unpack_header_block(block((b"port", b"80"))[:-1])
    with pytest.raises(spdy.SpdyError, match="after its 1 headers"):
        spdy.unpack_header_block(block((b"port", b"80")) + b"x")


def test_round_trip_through_two_framers_keeps_compression_in_step() -> None:
    sender, receiver = spdy.Framer(), spdy.Framer()
    frames: list[spdy.Frame] = [
        spdy.SynReply(1), spdy.SynReply(3, {"a": ["1"]}, fin=True),
        spdy.SynStream(2, {"streamtype": ["data"]}, associated_id=1, priority=7,
                       unidirectional=True),
        spdy.HeadersFrame(3, {"b": ["2", "3"]}), spdy.DataFrame(3, b"x" * 70000, fin=True),
        spdy.Ping(2), spdy.GoAway(3, 1), spdy.WindowUpdate(3, 10),
        spdy.Settings(((0, 4, 100),), clear=True), spdy.RstStream(3, spdy.PROTOCOL_ERROR),
    ]
    wire = b"".join(sender.encode(frame) for frame in frames)
    assert receiver.feed(wire) == frames


def test_frames_split_anywhere_or_sharing_a_message() -> None:
    sender = spdy.Framer()
    wire = (sender.encode(spdy.SynReply(1, {"k": ["v"]}))
            + sender.encode(spdy.DataFrame(1, b"hello")) + sender.encode(spdy.Ping(5)))
    receiver = spdy.Framer()
    frames: list[spdy.Frame] = []
    for index in range(len(wire)):
        frames += receiver.feed(wire[index:index + 1])
    assert frames == [spdy.SynReply(1, {"k": ["v"]}), spdy.DataFrame(1, b"hello"), spdy.Ping(5)]


def test_unknown_control_type_is_kept_for_the_caller_to_ignore() -> None:
    raw = control(0x0A, 0, b"\x01\x02")
    assert spdy.Framer().feed(raw) == [spdy.UnknownControl(0x0A, 0, b"\x01\x02")]


@pytest.mark.parametrize(("raw", "message"), [
    (b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", "version 2"),
    (control(6, 0, b"\x00\x01"), "too short"),
    (b"\x00\x00\x00\x00\x00\x00\x00\x00", "stream 0"),
])
def test_malformed_input_is_a_spdy_error(raw: bytes, message: str) -> None:
    with pytest.raises(spdy.SpdyError, match=message):
        spdy.Framer().feed(raw)


def test_data_longer_than_24_bits_cannot_be_one_frame() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        spdy.encode_data(1, b"\x00" * (spdy.MAX_DATA_LENGTH + 1))
