"""Docker's chunked, stdcopy-framed log body decoded from reads of any size."""

from __future__ import annotations

import random

import pytest

from localsvc.net.dockerlogframes import BadLogStream, DockerLogDecoder


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def chunked(*parts: bytes, end: bool = True) -> bytes:
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts)
    return body + (b"0\r\n\r\n" if end else b"")


MESSAGES = [b"line 1\n", b"an error\n", b"x" * 70000 + b"\n", b"", b"last\n"]
BODY = chunked(*(frame(1 + i % 2, m) for i, m in enumerate(MESSAGES)))


def decode(data: bytes, sizes: list[int], chunked_: bool = True,
           multiplexed: bool = True) -> tuple[list[bytes], bool]:
    decoder = DockerLogDecoder(chunked_, multiplexed)
    out: list[bytes] = []
    pos = 0
    for size in sizes:
        out += decoder.feed(data[pos:pos + size])
        pos += size
    out += decoder.feed(data[pos:])
    return out, decoder.done


def test_one_read_gives_every_payload_and_sees_the_end() -> None:
    out, done = decode(BODY, [])
    assert out == [m for m in MESSAGES if m] and done


def test_reads_split_anywhere_give_the_same_payloads() -> None:
    rng = random.Random(7)
    for _ in range(50):
        sizes = [rng.randint(1, 300) for _ in range(rng.randint(1, 40))]
        out, done = decode(BODY, sizes)
        assert b"".join(out) == b"".join(MESSAGES) and done


def test_byte_by_byte() -> None:
    small = chunked(frame(1, b"a\n"), frame(2, b"bc\n"))
    out, done = decode(small, [1] * len(small))
    assert out == [b"a\n", b"bc\n"] and done


def test_a_frame_split_over_chunks_is_joined() -> None:
    whole = frame(1, b"hello world\n")
    out, done = decode(chunked(whole[:5], whole[5:11], whole[11:]), [])
    assert out == [b"hello world\n"] and done


def test_an_open_stream_is_not_done_and_keeps_a_partial_frame() -> None:
    decoder = DockerLogDecoder(True, True)
    whole = frame(1, b"partial\n")
    assert decoder.feed(chunked(whole[:10], end=False)) == []
    assert not decoder.done
    assert decoder.feed(chunked(whole[10:])) == [b"partial\n"]
    assert decoder.done


def test_a_tty_log_is_raw_bytes_without_frames() -> None:
    out, done = decode(chunked(b"tty out\r\n", b"more"), [3], multiplexed=False)
    assert b"".join(out) == b"tty out\r\nmore" and done


def test_a_body_without_chunking_is_framed_bytes_only() -> None:
    out, _ = decode(frame(1, b"a\n") + frame(1, b"b\n"), [4], chunked_=False)
    assert out == [b"a\n", b"b\n"]


def test_garbage_is_refused_with_the_reason() -> None:
    with pytest.raises(BadLogStream, match="not hexadecimal"):
        DockerLogDecoder(True, True).feed(b"zz\r\nabc\r\n")
    with pytest.raises(BadLogStream, match="CRLF"):
        DockerLogDecoder(True, True).feed(b"3\r\nabcXY")
