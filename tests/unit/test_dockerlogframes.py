"""Docker's stdcopy-framed log body (HTTP's chunks already taken off by aiohttp) decoded from
reads of any size."""

from __future__ import annotations

import random

from localsvc.net.dockerlogframes import DockerLogDecoder


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


MESSAGES = [b"line 1\n", b"an error\n", b"x" * 70000 + b"\n", b"", b"last\n"]
BODY = b"".join(frame(1 + i % 2, m) for i, m in enumerate(MESSAGES))


def decode(data: bytes, sizes: list[int], multiplexed: bool = True) -> list[bytes]:
    decoder = DockerLogDecoder(multiplexed)
    out: list[bytes] = []
    pos = 0
    for size in sizes:
        out += decoder.feed(data[pos:pos + size])
        pos += size
    out += decoder.feed(data[pos:])
    return out


def test_one_read_gives_every_payload() -> None:
    assert decode(BODY, []) == [m for m in MESSAGES if m]


def test_reads_split_anywhere_give_the_same_payloads() -> None:
    rng = random.Random(7)
    for _ in range(50):
        sizes = [rng.randint(1, 300) for _ in range(rng.randint(1, 40))]
        assert b"".join(decode(BODY, sizes)) == b"".join(MESSAGES)


def test_byte_by_byte() -> None:
    small = frame(1, b"a\n") + frame(2, b"bc\n")
    assert decode(small, [1] * len(small)) == [b"a\n", b"bc\n"]


def test_an_open_stream_keeps_a_partial_frame() -> None:
    decoder = DockerLogDecoder(True)
    whole = frame(1, b"partial\n")
    assert decoder.feed(whole[:10]) == []
    assert decoder.feed(whole[10:]) == [b"partial\n"]


def test_a_tty_log_is_raw_bytes_without_frames() -> None:
    assert b"".join(decode(b"tty out\r\nmore", [3], multiplexed=False)) == b"tty out\r\nmore"
