"""Host side of `localsvc port-forward`: a local TCP listener whose connections are tunnelled
through the node's API (`localsvc.node.tunnel`) to an address inside the environment.

Owns the listener and one WebSocket per accepted connection. It does not resolve Services or
pods to addresses (the caller passes a ForwardTarget), print anything but one line per failed
tunnel, or decide exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import aiohttp

from localsvc.model.ports import container_port
from localsvc.errors import LocalsvcError
from localsvc.net.tunnelwire import CHUNK, CLOSE_CONNECT_FAILED, EOF_MESSAGE
from localsvc.runtime.nodeaddress import NodeAddress
from localsvc.tasks import spawn

_CLOSE_TIMEOUT = 2.0
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class ForwardTarget:
    """Where tunnelled connections go, inside the environment; description names it in errors."""

    ip: str
    port: int
    description: str  # e.g. "svc/web": "error forwarding port 80 to svc/web: ..."

    @classmethod
    def of_service(cls, svc: dict[str, Any], port: str) -> ForwardTarget:
        """A Service's ClusterIP and its port numbered or named `port`."""
        name = svc["metadata"]["name"]
        ip = svc["spec"].get("clusterIP")
        if not ip or ip == "None":
            raise LocalsvcError(f"service {name} has no ClusterIP (headless or ExternalName); "
                                "port-forward to one of its pods instead (pod/NAME)")
        for p in svc["spec"].get("ports") or []:
            if str(p["port"]) == port or p.get("name") == port:
                return cls(ip, int(p["port"]), f"svc/{name}")
        raise LocalsvcError(f"service {name} has no port {port}")

    @classmethod
    def of_pod(cls, pod: dict[str, Any], port: str) -> ForwardTarget:
        """A pod's IP and `port`, a number or the name of one of its container ports."""
        from localsvc.host.podstatus import pod_reason

        name = pod["metadata"]["name"]
        ip = pod["status"].get("podIP")
        if not ip:
            raise LocalsvcError(f"pod {name} has no IP yet ({pod_reason(pod)})")
        number = container_port(port, pod["spec"]["containers"])
        if number is None:
            raise LocalsvcError(f"pod {name} has no container port named {port}")
        return cls(ip, number, f"pod/{name}")


def parse_port_spec(spec: str) -> tuple[int, int]:
    """(local, remote) of a kubectl-style spec: "8080:80", "80" (same port), ":80" (any port)."""
    local_text, sep, remote_text = spec.strip().rpartition(":")
    if not sep:
        local_text = remote_text
    elif not local_text:
        local_text = "0"
    remote = _port_number(spec, remote_text, "remote", allow_zero=False)
    local = _port_number(spec, local_text, "local", allow_zero=True)
    return local, remote


def _port_number(spec: str, text: str, which: str, *, allow_zero: bool) -> int:
    lowest = 0 if allow_zero else 1
    if text.isdigit() and lowest <= int(text) <= 65535:
        return int(text)
    raise LocalsvcError(
        f"port spec {spec!r}: {which} port {text!r} is not a number from {lowest} to 65535 "
        "(use [LOCAL:]REMOTE, e.g. 8080:80, 80, or :80 for any free local port)"
    )


def _print_error(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PortForwarder:
    """Listens on local_host:local_port; tunnels each connection through the node to target."""

    def __init__(
        self,
        address: NodeAddress,
        target: ForwardTarget,
        local_port: int = 0,
        local_host: str = "127.0.0.1",
        *,
        on_error: Callable[[str], None] = _print_error,
    ) -> None:
        self._url = address.join("/v1/tunnel")
        self._ssl = address.ssl_context
        self._headers = {"Authorization": f"Bearer {address.token}"}
        self.target = target
        self._local = (local_host, local_port)
        self._on_error = on_error
        self._session: aiohttp.ClientSession | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tunnels: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._stopped = asyncio.Event()

    @property
    def active(self) -> int:
        """How many tunnels are open now."""
        return len(self._tunnels)

    async def start(self) -> int:
        """Bind the listener; the local port actually bound (the kernel's choice for port 0)."""
        host, port = self._local
        try:
            self._server = await asyncio.start_server(self._accept, host, port)
        except OSError as error:
            raise LocalsvcError(
                f"cannot listen on {host}:{port}: {error.strerror or error}"
                " (choose another local port, or :PORT for any free one)"
            ) from error
        self._session = aiohttp.ClientSession()
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def serve_forever(self) -> None:
        """Return once stop() has been called (start() must have been)."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close the listener and every open tunnel (both of its ends)."""
        if self._server is not None:
            self._server.close()
        tunnels = list(self._tunnels)
        for task in tunnels:
            task.cancel()
        await asyncio.gather(*tunnels, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()
        self._stopped.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = spawn(self._tunnel(reader, writer), name=f"port-forward #{next(self._ids)}")
        self._tunnels.add(task)
        task.add_done_callback(self._tunnels.discard)

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ws = await self._open()
            if ws is None:
                return
            up = spawn(_client_to_ws(reader, ws), name=f"{_current_name()} client->ws")
            try:
                failure = await _ws_to_client(ws, writer)
                if failure:
                    self._report(failure)
            finally:
                up.cancel()
                await asyncio.gather(up, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT)
        finally:
            await _close_writer(writer)

    async def _open(self) -> aiohttp.ClientWebSocketResponse | None:
        """The WebSocket of a new tunnel, or None (reported) if the node refused it."""
        assert self._session is not None
        try:
            return await self._session.ws_connect(
                self._url,
                params={"ip": self.target.ip, "port": str(self.target.port)},
                headers=self._headers,
                ssl=self._ssl if self._ssl is not None else True,
                heartbeat=None,
                max_msg_size=4 * CHUNK,
            )
        except aiohttp.WSServerHandshakeError as error:
            self._report(f"the node API answered {error.status} {error.message}")
        except (aiohttp.ClientError, OSError) as error:
            self._report(f"cannot reach the node API at {self._url}: {error}")
        return None

    def _report(self, reason: str) -> None:
        self._on_error(
            f"error forwarding port {self.target.port} to {self.target.description}: {reason}"
        )


async def _client_to_ws(reader: asyncio.StreamReader, ws: aiohttp.ClientWebSocketResponse) -> None:
    """Client bytes to the node; the client's EOF becomes "eof" (half-close); a reset, a close."""
    try:
        while data := await reader.read(CHUNK):
            await ws.send_bytes(data)
        await ws.send_str(EOF_MESSAGE)
    except OSError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT)


async def _ws_to_client(ws: aiohttp.ClientWebSocketResponse, writer: asyncio.StreamWriter) -> str:
    """Node bytes to the client until the WebSocket closes; why the tunnel failed, or ""."""
    try:
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                writer.write(msg.data)
                await writer.drain()
            elif msg.type is aiohttp.WSMsgType.CLOSE:
                if msg.data == CLOSE_CONNECT_FAILED:
                    return str(msg.extra or "the node could not connect")
                return ""
            elif msg.type is aiohttp.WSMsgType.ERROR:
                return f"tunnel broken: {msg.data}"
            elif msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return ""
    except OSError:
        return ""  # the client went away: nothing to tell it


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_TIMEOUT)


def _current_name() -> str:
    task = asyncio.current_task()
    return task.get_name() if task is not None else "port-forward"


# ---------------------------------------------------------------------------- blocking helpers


def run_port_forward(
    address: NodeAddress,
    target: ForwardTarget,
    local_port: int,
    on_ready: Callable[[int], None],
) -> None:
    """Forward until KeyboardInterrupt (Ctrl-C); on_ready(port) once listening."""
    run_port_forwards(address, [(target, local_port)], ["127.0.0.1"],
                      lambda host, port, target: on_ready(port))


def run_port_forwards(
    node: NodeAddress,
    forwards: list[tuple[ForwardTarget, int]],
    addresses: list[str],
    on_ready: Callable[[str, int, ForwardTarget], None],
) -> None:
    """Forward every (target, local port) on every address until KeyboardInterrupt (Ctrl-C).
    All listen or none: when one cannot bind, the others are closed and LocalsvcError raised.
    on_ready(address, port, target) is called for each listener once all listen. A local port 0
    is chosen once (on the first address) and used on the others too, as kubectl does."""

    async def main() -> None:
        started: list[PortForwarder] = []
        ready: list[tuple[str, int, ForwardTarget]] = []
        try:
            for target, local_port in forwards:
                port = local_port
                for address in addresses:
                    forwarder = PortForwarder(node, target, port, address)
                    port = await forwarder.start()
                    started.append(forwarder)
                    ready.append((address, port, target))
            for address, port, target in ready:
                on_ready(address, port, target)
            await asyncio.Event().wait()  # until Ctrl-C cancels this task
        finally:
            await asyncio.gather(*(f.stop() for f in started), return_exceptions=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class BackgroundPortForward:
    """A PortForwarder on its own event loop in a daemon thread, for synchronous code.

    Listening once the constructor returns (LocalsvcError if it cannot); `url` is the host URL
    for an HTTP target. Use as a context manager or call close().
    """

    def __init__(
        self,
        address: NodeAddress,
        target: ForwardTarget,
        local_port: int = 0,
        local_host: str = "127.0.0.1",
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._forwarder: PortForwarder | None = None
        self._args = (address, target, local_port, local_host)
        self.host = local_host
        self.port = 0
        self._thread = threading.Thread(
            target=self._run, name=f"port-forward {target.description}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise LocalsvcError(f"port-forward to {target.description} did not start")
        if self._error is not None or self._forwarder is None:
            self._thread.join(_START_TIMEOUT)
            raise self._error or LocalsvcError(f"port-forward to {target.description} failed")

    @property
    def url(self) -> str:
        """http://HOST:PORT of the local end."""
        return f"http://{self.host}:{self.port}"

    @property
    def active(self) -> int:
        """How many tunnels are open now."""
        return self._forwarder.active if self._forwarder is not None else 0

    def close(self) -> None:
        """Stop listening, close every tunnel, and end the thread."""
        if self._forwarder is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._forwarder.stop(), self._loop)
            with contextlib.suppress(Exception):
                future.result(_START_TIMEOUT)
        self._thread.join(_START_TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _main(self) -> None:
        forwarder = PortForwarder(*self._args)
        try:
            self.port = await forwarder.start()
        except LocalsvcError as error:  # raised again by the constructor
            self._error = error
            self._ready.set()
            return
        self._forwarder = forwarder
        self._ready.set()
        await forwarder.serve_forever()
