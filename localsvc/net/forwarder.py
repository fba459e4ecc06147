"""The svclb forwarder (asyncio): the process inside each svclb container (`localsvc svclb`).

Owns the listeners of one NodePort/LoadBalancer Service: for each rule it listens on a port
(which Docker publishes on the host) and relays every TCP connection or UDP flow to the
Service's ClusterIP:port, dropping clients outside the rule's source ranges. It does not publish
ports, choose ports or endpoints (the node's service proxy balances over the ClusterIP), and
never decides which event loop runs it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar, cast

from localsvc.errors import LocalsvcError
from localsvc.node.tasks import spawn

log = logging.getLogger("localsvc.forwarder")

Protocol = Literal["TCP", "UDP"]
T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ForwardRule:
    """Listen on `listen_port`/`protocol`; relay to target_ip:target_port (the ClusterIP)."""

    listen_port: int
    protocol: Protocol
    target_ip: str
    target_port: int
    source_ranges: tuple[str, ...] = ()  # CIDRs a client must be in; empty: every client

    def __str__(self) -> str:
        return f"{self.listen_port}/{self.protocol.lower()} -> {self.target_ip}:{self.target_port}"


# ------------------------------------------------------------------------------------- spec


def rules_to_json(rules: Sequence[ForwardRule]) -> str:
    """The `localsvc svclb` argument: {"rules": [...]} (read back by rules_from_json)."""
    return json.dumps(
        {"rules": [asdict(r) | {"source_ranges": list(r.source_ranges)} for r in rules]},
        sort_keys=True,
    )


def rules_from_json(text: str) -> list[ForwardRule]:
    """The rules of a spec written by rules_to_json (a bare list of rules is accepted too)."""
    data = _spec_object(text)
    items = data.get("rules")
    if not isinstance(items, list):
        raise LocalsvcError('svclb spec: "rules" must be a list of rules')
    return [_rule(item, i) for i, item in enumerate(items)]


def _spec_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise LocalsvcError(f"svclb spec is not valid JSON: {err}") from err
    if isinstance(data, list):
        return {"rules": data}
    if not isinstance(data, dict):
        raise LocalsvcError('svclb spec must be a JSON object with "rules"')
    return data


def _rule(item: Any, index: int) -> ForwardRule:
    where = f"svclb spec: rules[{index}]"
    if not isinstance(item, dict):
        raise LocalsvcError(f"{where} must be an object")
    protocol = str(item.get("protocol", "TCP")).upper()
    if protocol not in ("TCP", "UDP"):
        raise LocalsvcError(f'{where}.protocol must be "TCP" or "UDP" (got {protocol!r})')
    ranges = item.get("source_ranges") or []
    if not isinstance(ranges, list):
        raise LocalsvcError(f"{where}.source_ranges must be a list of CIDRs")
    return ForwardRule(
        listen_port=_field(where, "listen_port", lambda: _port(item.get("listen_port"), 0)),
        protocol=cast(Protocol, protocol),
        target_ip=_field(
            where, "target_ip", lambda: str(ipaddress.ip_address(str(item.get("target_ip"))))
        ),
        target_port=_field(where, "target_port", lambda: _port(item.get("target_port"), 1)),
        source_ranges=_field(
            where,
            "source_ranges",
            lambda: tuple(str(ipaddress.ip_network(str(c), strict=False)) for c in ranges),
        ),
    )


def _field(where: str, name: str, parse: Callable[[], T]) -> T:
    try:
        return parse()
    except (TypeError, ValueError) as err:
        raise LocalsvcError(f"{where}.{name}: {err}") from err


def _port(value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
        raise ValueError(f"port must be an integer from {low} to 65535 (got {value!r})")
    return value


# ---------------------------------------------------------------------------------- helpers


class _Sources:
    """loadBalancerSourceRanges: which client addresses a rule lets in."""

    # Docker relays connections to published ports from the host's loopback through the bridge
    # gateway: seen from here they come from the gateway, so that address stands for 127.0.0.1.
    host_alias: str | None = None

    def __init__(self, cidrs: Sequence[str]) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def allows(self, host: str) -> bool:
        if not self.networks:
            return True
        if host == _Sources.host_alias:
            host = "127.0.0.1"
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close at once with a TCP RST (SO_LINGER 0), so the client sees a refusal, not a hang."""
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    cast(asyncio.Transport, transport).abort()


def _bind(host: str, rule: ForwardRule) -> socket.socket:
    kind = socket.SOCK_DGRAM if rule.protocol == "UDP" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, rule.listen_port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise LocalsvcError(
            f"svclb: cannot listen on {host}:{rule.listen_port}/{rule.protocol.lower()}: "
            f"{err.strerror or err}"
        ) from err
    return sock


# -------------------------------------------------------------------------------------- TCP


class _Side(asyncio.Protocol):
    """One end of a relayed TCP connection; passes bytes, EOF and backpressure to the other."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.write_paused = False

    @property
    def peer(self) -> _Side:
        return self.relay.target if self is self.relay.client else self.relay.client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self is self.relay.client:
            self.relay.client_connected()
        else:
            self.relay.target_connected()

    def data_received(self, data: bytes) -> None:
        out = self.peer.transport
        if out is None:
            # The target is not connected yet (uvloop may deliver before the pause holds).
            self.relay.pending.append(data)
            if self.transport is not None:
                self.transport.pause_reading()
        elif not out.is_closing():
            out.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        out = self.peer.transport
        if out is not None and not out.is_closing() and out.can_write_eof():
            out.write_eof()
        if self.peer.eof:
            self.relay.close()
        return True  # half-close: the other direction carries on

    def pause_writing(self) -> None:
        self.write_paused = True
        self.relay.set_reading(self.peer, False)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.relay.set_reading(self.peer, True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.lost(self, exc)


class _Relay:
    """One forwarded TCP connection: the client side, the target side, the connecting task."""

    def __init__(self, listener: _TcpListener) -> None:
        self.listener = listener
        self.client = _Side(self)
        self.target = _Side(self)
        self.pending: list[bytes] = []
        self.task: asyncio.Task[Any] | None = None
        self.closed = False

    def client_connected(self) -> None:
        transport = self.client.transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if not self.listener.sources.allows(host):
            log.info("%s: client %s is outside the source ranges", self.listener.rule, host)
            _reset(transport)
            return
        transport.pause_reading()  # until the target side exists
        self.listener.relays.add(self)
        self.task = spawn(self._connect(), name=f"svclb-connect {self.listener.rule}")

    async def _connect(self) -> None:
        rule = self.listener.rule
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self.target, rule.target_ip, rule.target_port),
                self.listener.connect_timeout,
            )
        except (OSError, TimeoutError) as err:
            log.info("%s: target refused: %r", rule, err)
            self.abort()

    def target_connected(self) -> None:
        target, client = self.target.transport, self.client.transport
        assert target is not None
        if self.closed or client is None or client.is_closing():
            target.close()
            return
        for chunk in self.pending:
            target.write(chunk)
        self.pending.clear()
        if self.client.eof and target.can_write_eof():
            target.write_eof()
        if not self.target.write_paused:
            client.resume_reading()

    def set_reading(self, side: _Side, on: bool) -> None:
        """Flow control: stop or restart reading from `side` (whose bytes fill the other)."""
        transport = side.transport
        if transport is None or transport.is_closing():
            return
        if on and not (side is self.client and self.target.transport is None):
            transport.resume_reading()
        elif not on:
            transport.pause_reading()

    def lost(self, side: _Side, exc: Exception | None) -> None:
        other = side.peer.transport
        if other is not None and not other.is_closing():
            if exc is None:
                other.close()  # flush what is buffered, then FIN
            else:
                _reset(other)
        if side is self.client and self.task is not None and not self.task.done():
            self.task.cancel()
        if other is None or other.is_closing():
            self._forget()

    def close(self) -> None:
        for side in (self.client, self.target):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()
        self._forget()

    def abort(self) -> None:
        if self.client.transport is not None:
            _reset(self.client.transport)
        if self.target.transport is not None and not self.target.transport.is_closing():
            self.target.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._forget()

    def _forget(self) -> None:
        self.closed = True
        self.listener.relays.discard(self)


class _TcpListener:
    def __init__(self, rule: ForwardRule, sock: socket.socket, connect_timeout: float) -> None:
        self.rule = rule
        self.sock = sock
        self.sources = _Sources(rule.source_ranges)
        self.connect_timeout = connect_timeout
        self.relays: set[_Relay] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Relay(self).client, sock=self.sock)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()  # the server owns the socket now
        else:
            self.sock.close()
        tasks = [r.task for r in self.relays if r.task is not None]
        for relay in list(self.relays):
            relay.abort()
        await asyncio.gather(*tasks, return_exceptions=True)


# -------------------------------------------------------------------------------------- UDP


class _Flow(asyncio.DatagramProtocol):
    """One UDP client: a socket connected to the target; replies go back via the listener."""

    def __init__(self, listener: _UdpListener, client: tuple[str, int]) -> None:
        self.listener = listener
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_seen = time.monotonic()
        self.task: asyncio.Task[Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last_seen = time.monotonic()
        if self.transport is None:
            if len(self.pending) < 64:
                self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.last_seen = time.monotonic()
        out = self.listener.transport
        if out is not None and not out.is_closing():
            out.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable: end the flow; the client's next datagram opens a new one
        log.debug("%s: flow from %s failed: %r", self.listener.rule, self.client, exc)
        self.close()

    def close(self) -> None:
        if self.listener.flows.get(self.client) is self:
            del self.listener.flows[self.client]
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, rule: ForwardRule, sock: socket.socket, idle_timeout: float) -> None:
        self.rule = rule
        self.sock = sock
        self.sources = _Sources(rule.source_ranges)
        self.idle_timeout = idle_timeout
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _Flow] = {}
        self.sweeper: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)
        self.sweeper = spawn(self._sweep(), name=f"svclb-udp-sweep {self.rule}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        flow = self.flows.get(client)
        if flow is None:
            if not self.sources.allows(client[0]):
                return
            flow = _Flow(self, client)
            self.flows[client] = flow
            flow.task = spawn(self._open(flow), name=f"svclb-udp-flow {self.rule}")
        flow.send(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: %r", self.rule, exc)

    async def _open(self, flow: _Flow) -> None:
        loop = asyncio.get_running_loop()
        target = (self.rule.target_ip, self.rule.target_port)
        try:
            await loop.create_datagram_endpoint(lambda: flow, remote_addr=target)
        except OSError as err:
            log.info("%s: cannot reach the target: %r", self.rule, err)
            flow.close()

    async def _sweep(self) -> None:
        idle = self.idle_timeout
        while True:
            await asyncio.sleep(max(0.05, min(idle / 4, 5.0)))
            now = time.monotonic()
            for flow in [f for f in self.flows.values() if now - f.last_seen >= idle]:
                flow.close()

    async def stop(self) -> None:
        tasks = [t for t in (self.sweeper,) if t is not None]
        tasks += [f.task for f in self.flows.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        for flow in list(self.flows.values()):
            flow.close()
        if self.transport is not None:
            self.transport.close()  # the transport owns the socket now
        else:
            self.sock.close()
        await asyncio.gather(*tasks, return_exceptions=True)


# -------------------------------------------------------------------------------- forwarder


class Forwarder:
    """Every rule's listener; start() binds them all or none (raising LocalsvcError)."""

    def __init__(
        self,
        rules: Sequence[ForwardRule],
        listen_host: str = "0.0.0.0",
        udp_idle_timeout: float = 30.0,
        *,
        connect_timeout: float = 5.0,
    ) -> None:
        self.rules = list(rules)
        self.listen_host = listen_host
        self.udp_idle_timeout = udp_idle_timeout
        self.connect_timeout = connect_timeout
        self._listeners: list[_TcpListener | _UdpListener] = []

    @property
    def bound_ports(self) -> dict[int, int]:
        """Rule index -> the port actually listened on (differs when listen_port is 0)."""
        return {i: int(x.sock.getsockname()[1]) for i, x in enumerate(self._listeners)}

    @property
    def udp_flows(self) -> dict[int, int]:
        """Rule index -> live UDP flows (UDP rules only)."""
        return {
            i: len(x.flows) for i, x in enumerate(self._listeners) if isinstance(x, _UdpListener)
        }

    @property
    def tcp_connections(self) -> dict[int, int]:
        """Rule index -> relayed TCP connections now open (TCP rules only)."""
        return {
            i: len(x.relays) for i, x in enumerate(self._listeners) if isinstance(x, _TcpListener)
        }

    async def start(self) -> None:
        if self._listeners:
            raise LocalsvcError("svclb: the forwarder is already started")
        try:
            for rule in self.rules:
                self._listeners.append(self._listener(rule))
            for listener in self._listeners:
                await listener.start()
        except BaseException:
            await self.stop()
            raise
        for rule, port in zip(self.rules, self.bound_ports.values(), strict=True):
            log.info(
                "svclb: %s:%d/%s -> %s:%d",
                self.listen_host,
                port,
                rule.protocol.lower(),
                rule.target_ip,
                rule.target_port,
            )

    def _listener(self, rule: ForwardRule) -> _TcpListener | _UdpListener:
        sock = _bind(self.listen_host, rule)
        if rule.protocol == "UDP":
            return _UdpListener(rule, sock, self.udp_idle_timeout)
        return _TcpListener(rule, sock, self.connect_timeout)

    async def stop(self) -> None:
        """Close every listener, connection and flow."""
        listeners, self._listeners = self._listeners, []
        await asyncio.gather(*(x.stop() for x in listeners), return_exceptions=True)


async def run_forwarder(spec_json: str) -> None:
    """`localsvc svclb SPEC`: forward until SIGTERM or SIGINT, then close everything and return.

    SPEC is rules_to_json's object, optionally with "listen_host" and "udp_idle_timeout".
    """
    spec = _spec_object(spec_json)
    _Sources.host_alias = str(spec.get("host_alias") or "") or None
    forwarder = Forwarder(
        rules_from_json(spec_json),
        listen_host=str(spec.get("listen_host") or "0.0.0.0"),
        udp_idle_timeout=float(spec.get("udp_idle_timeout") or 30.0),
    )
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        await forwarder.start()
        await stopping.wait()
        log.info("svclb: stopping")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await forwarder.stop()
