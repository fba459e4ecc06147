"""node/kubeapi/portforward.py's Forwarding without kubectl or a pod: SPDY frames fed in by a
client framer over an in-memory channel (the byte stream a WebSocket or upgraded connection
would carry), pod connections to real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from localsvc.net import portforward_streams as pf
from localsvc.net import spdy
from localsvc.node.kubeapi import portforward, portforward_channels


class MemoryChannel:
    """The SPDY byte stream in memory: `inbox` is what kubectl sends (None: it hangs up);
    `sent` what reached it. A `stalled` channel never finishes a send (kubectl stopped
    reading)."""

    def __init__(self, stalled: bool = False) -> None:
        self.response: Any = None
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent = bytearray()
        self.stalled = stalled
        self.closed = False

    async def incoming(self) -> AsyncIterator[bytes]:
        while (data := await self.inbox.get()) is not None:
            yield data

    async def send(self, data: bytes) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.sent += data

    async def close(self) -> None:
        self.closed = True


def forwarding(channel: MemoryChannel, pod_ip: str = "127.0.0.1") -> portforward.Forwarding:
    # No controller: only a refused connection's error text would ask Docker for the sandbox.
    return portforward.Forwarding(None, channel, pod_ip, "uid-1")  # type: ignore[arg-type]


def open_pair(kubectl: spdy.Framer, request_id: str, port: int, first_stream: int) -> bytes:
    """kubectl's SYN_STREAMs of one forwarded connection: its error stream, then data."""
    return b"".join(
        kubectl.encode(spdy.SynStream(first_stream + offset, {
            "streamtype": [kind], "port": [str(port)], "requestid": [request_id]}))
        for offset, kind in ((0, "error"), (2, "data")))


async def eventually(check: Callable[[], bool], what: str, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def serve(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                  Awaitable[None]]) -> tuple[asyncio.Server, int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await handler(reader, writer)
        writer.close()
    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_a_pair_ending_while_kubectl_stalls_is_ended_with_the_forwarding() -> None:
    """Regression: a pair whose pod hung up left `connections` and then waited, forever, to
    queue its last frames on a full queue; the forwarding's end did not cancel it."""
    async def scenario() -> bool:
        hang_up = asyncio.Event()

        async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                writer.write(b"x" * pf.CHUNK)
                await writer.drain()

        async def close_when_told(reader: asyncio.StreamReader,
                                  writer: asyncio.StreamWriter) -> None:
            await hang_up.wait()

        flooder, flood_port = await serve(flood)
        closer, close_port = await serve(close_when_told)
        channel = MemoryChannel(stalled=True)
        whole = forwarding(channel)
        running = asyncio.create_task(whole.run())
        kubectl = spdy.Framer()
        channel.inbox.put_nowait(open_pair(kubectl, "b", close_port, 1))
        await eventually(lambda: "b" in whole.connections, "pair b connected")
        ending = whole.connections["b"].task
        assert ending is not None
        channel.inbox.put_nowait(open_pair(kubectl, "a", flood_port, 5))
        await eventually(whole.outgoing.full, "the queue to kubectl full")
        hang_up.set()
        await eventually(lambda: "b" not in whole.connections, "pair b ending")
        channel.inbox.put_nowait(None)  # kubectl leaves
        await asyncio.wait_for(running, 5)
        await asyncio.sleep(0.05)
        done = ending.done()
        for server in (flooder, closer):
            server.close()
        return done

    assert asyncio.run(scenario())


def test_header_frames_are_encoded_in_the_order_they_are_sent() -> None:
    """A sender woken from a full queue can be overtaken by a later one: each frame must be
    compressed when it goes out, so kubectl's decompressor sees blocks in wire order."""
    async def scenario() -> list[spdy.Frame]:
        channel = MemoryChannel()
        whole = forwarding(channel)
        while not whole.outgoing.full():
            whole.outgoing.put_nowait(spdy.Ping(2))
        first = asyncio.create_task(whole.send([spdy.SynReply(1, {"first": ["1"]})]))
        await asyncio.sleep(0)  # `first` waits for room
        whole.outgoing.get_nowait()  # the sender takes one: `first` is woken, not yet run
        await whole.send([spdy.SynReply(3, {"second": ["2"]})])  # ...and overtaken
        sender = asyncio.create_task(whole._send_frames())
        await asyncio.wait_for(first, 5)
        await whole.outgoing.put(None)
        await asyncio.wait_for(sender, 5)
        return spdy.Framer().feed(bytes(channel.sent))

    frames = asyncio.run(scenario())
    replies = [frame for frame in frames if isinstance(frame, spdy.SynReply)]
    assert replies == [spdy.SynReply(3, {"second": ["2"]}), spdy.SynReply(1, {"first": ["1"]})]


def test_bytes_that_are_not_spdy_end_the_connection_with_a_goaway() -> None:
    async def scenario() -> tuple[list[spdy.Frame], bool]:
        channel = MemoryChannel()
        whole = forwarding(channel)
        kubectl = spdy.Framer()
        channel.inbox.put_nowait(kubectl.encode(spdy.SynStream(1, {
            "streamtype": ["error"], "port": ["80"], "requestid": ["0"]})))
        channel.inbox.put_nowait(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")
        await asyncio.wait_for(whole.run(), 10)
        return spdy.Framer().feed(bytes(channel.sent)), channel.closed

    frames, closed = asyncio.run(scenario())
    assert frames == [spdy.SynReply(1), spdy.GoAway(1, spdy.GOAWAY_PROTOCOL_ERROR)]
    assert closed


def test_a_goaway_to_a_kubectl_that_stopped_reading_does_not_hold_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portforward, "GOAWAY_TIMEOUT", 0.2)

    async def scenario() -> bool:
        channel = MemoryChannel(stalled=True)
        whole = forwarding(channel)
        channel.inbox.put_nowait(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")
        await asyncio.wait_for(whole.run(), 5)
        return channel.closed

    assert asyncio.run(scenario())


class CountedLookup(portforward.Forwarding):
    """A Forwarding whose Docker lookup of the sandbox is replaced by a count of its calls (a
    unit test has no Docker; the integration test of a refused port sees the real text)."""

    def __init__(self, fails: bool) -> None:
        super().__init__(None, MemoryChannel(), "127.0.0.1", "uid-1")  # type: ignore[arg-type]
        self.lookups = 0
        self.fails = fails

    def find_sandbox(self) -> tuple[str, str]:
        self.lookups += 1
        time.sleep(0.05)  # Docker takes a while: the refusals' lookups overlap
        if self.fails:
            raise OSError("no Docker")
        return "sandbox-id", "/var/run/docker/netns/x"


@pytest.mark.parametrize(("fails", "answer"), [
    (False, ("sandbox-id", "/var/run/docker/netns/x")), (True, ("uid-1", ""))])
def test_fifty_refusals_look_the_sandbox_up_once(fails: bool, answer: tuple[str, str]) -> None:
    async def scenario() -> tuple[list[tuple[str, str]], int]:
        whole = CountedLookup(fails)
        answers = await asyncio.gather(*(whole.sandbox() for _ in range(50)))
        answers.append(await whole.sandbox())
        return answers, whole.lookups

    answers, lookups = asyncio.run(scenario())
    assert answers == [answer] * 51
    assert lookups == 1


def test_bytes_sent_before_the_pod_connection_is_up_are_capped() -> None:
    """Regression: kubectl's bytes for a pair still connecting (up to 30 s) piled up without
    limit; past PENDING_LIMIT the write now waits for the connection, then delivers in order."""
    async def scenario() -> tuple[bool, bool, int, bytes]:
        received = bytearray()
        done = asyncio.Event()

        async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(1 << 16):
                received.extend(data)
            done.set()

        server, port = await serve(sink)
        whole = forwarding(MemoryChannel())
        pair = pf.Pair("0", port, error_stream=1, data_stream=3)
        connection = portforward.PodConnection(whole, pair)
        block = b"k" * (256 * 1024)
        for _ in range(portforward.PENDING_LIMIT // len(block)):
            await asyncio.wait_for(connection.write(block), 1)  # under the cap: no waiting
        waiting = asyncio.create_task(connection.write(b"over the cap"))
        await asyncio.sleep(0.2)
        held = not waiting.done()
        pending = len(connection.pending)
        running = asyncio.create_task(connection.run())  # the pod connection comes up
        await asyncio.wait_for(waiting, 5)
        connection.write_eof()
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.wait_for(running, 5)
        server.close()
        return held, waiting.done(), pending, bytes(received)

    held, delivered, pending, received = asyncio.run(scenario())
    assert held, "the write past the cap returned before the connection was up"
    assert pending == portforward.PENDING_LIMIT
    assert delivered
    assert received == b"k" * portforward.PENDING_LIMIT + b"over the cap"


def test_a_write_waiting_for_a_refused_connection_is_released() -> None:
    async def scenario() -> bool:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()  # nothing listens there now: refused
        whole = CountedLookup(fails=False)
        connection = portforward.PodConnection(whole, pf.Pair("0", port, 1, 3))
        connection.pending += b"x" * portforward.PENDING_LIMIT
        waiting = asyncio.create_task(connection.write(b"more"))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(connection.run(), 5)
        await asyncio.wait_for(waiting, 5)
        return not connection.pending

    assert asyncio.run(scenario())


def test_the_spdy_upgrades_reader_stops_reading_past_its_limit() -> None:
    """Regression: the bare connection's bytes after the 101 went into an unbounded queue and
    the socket was never paused; now reading pauses past the limit and resumes as it drains."""
    async def scenario() -> tuple[bool, bool, bytes]:
        holder: dict[str, portforward_channels.RawReader] = {}
        fed = asyncio.Event()

        class Feeding(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                holder["reader"] = portforward_channels.RawReader(transport, limit=256 * 1024)

            def data_received(self, data: bytes) -> None:
                holder["reader"].feed_data(data)
                fed.set()

            def eof_received(self) -> None:
                holder["reader"].feed_eof()

        loop = asyncio.get_running_loop()
        server = await loop.create_server(Feeding, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = bytes(range(256)) * (16 * 1024)  # 4 MiB
        writer.write(payload)
        sending = asyncio.create_task(writer.drain())
        await fed.wait()
        reader = holder["reader"]
        await eventually(lambda: reader.paused, "reading paused")
        await asyncio.sleep(0.2)  # paused: what is held stays near the limit
        bounded = reader.size < 256 * 1024 + (1 << 18)
        received = bytearray()
        resumed = False
        writer.write_eof()
        while (data := await asyncio.wait_for(reader.read(), 5)) is not None:
            received += data
            resumed = resumed or not reader.paused
        await asyncio.wait_for(sending, 5)
        writer.close()
        server.close()
        return bounded, resumed, bytes(received)

    bounded, resumed, received = asyncio.run(scenario())
    assert bounded
    assert resumed
    assert received == bytes(range(256)) * (16 * 1024)
