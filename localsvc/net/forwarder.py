"""The svclb forwarder (asyncio): the userspace relay of each svclb container (`localsvc svclb`)
where the kernel cannot forward (net/svclbrun.py chooses).

Owns the listeners of one NodePort/LoadBalancer Service: for each rule it listens on a port
(which Docker publishes on the host) and relays every TCP connection or UDP flow to the
Service's ClusterIP:port, dropping clients outside the rule's source ranges. TCP connections
and UDP flows of all its rules share one budget each, capped in all and per client address, and
end when idle (the numbers: `limits.RelayLimits`). It does not publish ports, choose ports or endpoints (the node's service proxy balances over the ClusterIP), and
never decides which event loop runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar, cast

from localsvc.errors import LocalsvcError
from localsvc.net.limits import RelayLimits, SourceBudget
from localsvc.net.relay import Address, TcpOwner, TcpRelay
from localsvc.net.sockets import BACKLOG, listening_socket
from localsvc.net.udp_relay import UdpRelay

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


# The svclb container's spec travels in this variable: written by node/svclb.py, read by
# `localsvc svclb` (host/commands/misc.py cmd_svclb), whose run_forwarder parses it.
SPEC_VARIABLE = "LOCALSVC_SVCLB_SPEC"


def rules_to_json(rules: Sequence[ForwardRule], host_alias: str = "", mode: str = "") -> str:
    """The `localsvc svclb` spec: {"rules": [...]} (read back by rules_from_json), with the
    address that stands for the host (run_forwarder's host_alias) when there is one, and the
    forwarding asked for (net/svclbrun.py: "kernel"; none: the relay)."""
    data: dict[str, Any] = {
        "rules": [asdict(r) | {"source_ranges": list(r.source_ranges)} for r in rules]}
    if host_alias:
        data["host_alias"] = host_alias
    if mode:
        data["mode"] = mode
    return json.dumps(data, sort_keys=True)


def rules_from_json(text: str) -> list[ForwardRule]:
    """The rules of a spec written by rules_to_json (a bare list of rules is accepted too)."""
    data = spec_object(text)
    items = data.get("rules")
    if not isinstance(items, list):
        raise LocalsvcError('svclb spec: "rules" must be a list of rules')
    return [_rule(item, i) for i, item in enumerate(items)]


def spec_object(text: str) -> dict[str, Any]:
    """The spec's JSON object (a bare list stands for its rules)."""
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


def limits_from_spec(value: Any) -> RelayLimits:
    """The spec's optional "limits" object: RelayLimits fields to change from their defaults."""
    if value is None:
        return RelayLimits()
    if not isinstance(value, dict):
        raise LocalsvcError('svclb spec: "limits" must be an object of RelayLimits fields')
    known = {f.name for f in dataclasses.fields(RelayLimits)}
    for name, number in value.items():
        if name not in known:
            raise LocalsvcError(f"svclb spec: limits.{name} is not a limit (known: "
                                f"{', '.join(sorted(known))})")
        if isinstance(number, bool) or not isinstance(number, int | float | None) or (
                number is None and name != "tcp_idle_timeout"):
            raise LocalsvcError(f"svclb spec: limits.{name} must be a number (got {number!r})")
    try:
        return RelayLimits(**value)
    except (TypeError, ValueError) as err:
        raise LocalsvcError(f"svclb spec: limits: {err}") from err


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

    def __init__(self, cidrs: Sequence[str], host_alias: str | None = None) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        # Docker relays connections to published ports from the host's loopback through the
        # bridge gateway: seen from here they come from it, so that address stands for 127.0.0.1.
        self.host_alias = host_alias

    def allows(self, host: str) -> bool:
        if not self.networks:
            return True
        if host == self.host_alias:
            host = "127.0.0.1"
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


def _bind(host: str, rule: ForwardRule) -> socket.socket:
    kind = socket.SOCK_DGRAM if rule.protocol == "UDP" else socket.SOCK_STREAM
    try:
        return listening_socket(host, rule.listen_port, kind)
    except OSError as err:
        raise LocalsvcError(
            f"svclb: cannot listen on {host}:{rule.listen_port}/{rule.protocol.lower()}: "
            f"{err.strerror or err}"
        ) from err


# -------------------------------------------------------------------------------------- TCP


class _TcpListener(TcpOwner[Address]):
    """One TCP rule: relays every admitted connection to the rule's single target."""

    def __init__(self, rule: ForwardRule, sock: socket.socket, limits: RelayLimits,
                 budget: SourceBudget, host_alias: str | None) -> None:
        self.rule = rule
        self.sock = sock
        self.sources = _Sources(rule.source_ranges, host_alias)
        self.connect_timeout = limits.connect_timeout
        self.idle_timeout = limits.tcp_idle_timeout
        self.budget = budget
        self.relays: set[TcpRelay[Address]] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        name = f"svclb-connect {self.rule}"
        self.server = await loop.create_server(
            lambda: TcpRelay(self, self.connect_timeout, name).client, sock=self.sock,
            backlog=BACKLOG,
        )

    def admit(self, client_host: str) -> bool:
        if self.sources.allows(client_host):
            return True
        log.info("%s: client %s is outside the source ranges", self.rule, client_host)
        return False

    def upstreams(self, client_host: str) -> list[Address]:
        return [Address(self.rule.target_ip, self.rule.target_port)]

    def relay_opened(self, relay: TcpRelay[Address]) -> None:
        self.relays.add(relay)

    def relay_closed(self, relay: TcpRelay[Address]) -> None:
        self.relays.discard(relay)

    def upstream_failed(self, client_host: str, upstream: Address, err: Exception) -> None:
        log.info("%s: target refused: %r", self.rule, err)

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


class _UdpListener(UdpRelay[Address]):
    """One UDP rule: a flow per admitted client, each to the rule's single target."""

    def __init__(self, rule: ForwardRule, sock: socket.socket, idle_timeout: float,
                 budget: SourceBudget, host_alias: str | None) -> None:
        super().__init__(str(rule), "svclb", idle_timeout, time.monotonic, log, budget)
        self.rule = rule
        self.sock = sock
        self.sources = _Sources(rule.source_ranges, host_alias)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)
        self.start_sweeping()

    def choose(self, client_host: str) -> Address | None:
        if not self.sources.allows(client_host):
            return None
        return Address(self.rule.target_ip, self.rule.target_port)

    async def stop(self) -> None:
        served = self.transport is not None
        tasks = self.shut()
        if not served:
            self.sock.close()
        await asyncio.gather(*tasks, return_exceptions=True)


# -------------------------------------------------------------------------------- forwarder


class Forwarder:
    """Every rule's listener; start() binds them all or none (raising LocalsvcError).

    `udp_idle_timeout` and `connect_timeout`, when given, override those of `limits`."""

    def __init__(
        self,
        rules: Sequence[ForwardRule],
        listen_host: str = "0.0.0.0",
        udp_idle_timeout: float | None = None,
        *,
        connect_timeout: float | None = None,
        host_alias: str | None = None,
        limits: RelayLimits = RelayLimits(),
    ) -> None:
        self.rules = list(rules)
        self.host_alias = host_alias
        self.listen_host = listen_host
        self.limits = limits.with_timeouts(udp_idle_timeout, connect_timeout)
        self.udp_idle_timeout = self.limits.udp_idle_timeout
        self.connect_timeout = self.limits.connect_timeout
        # Shared by every rule: the caps hold for the container as a whole.
        self.tcp_budget, self.udp_budget = self.limits.budgets()
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
            return _UdpListener(rule, sock, self.udp_idle_timeout, self.udp_budget, self.host_alias)
        return _TcpListener(rule, sock, self.limits, self.tcp_budget, self.host_alias)

    async def stop(self) -> None:
        """Close every listener, connection and flow."""
        listeners, self._listeners = self._listeners, []
        await asyncio.gather(*(x.stop() for x in listeners), return_exceptions=True)


async def run_forwarder(spec_json: str) -> None:
    """`localsvc svclb SPEC`: forward until SIGTERM or SIGINT, then close everything and return.

    SPEC is rules_to_json's object, optionally with "listen_host", "udp_idle_timeout" and
    "limits" (RelayLimits fields, see limits_from_spec).
    """
    spec = spec_object(spec_json)
    idle = spec.get("udp_idle_timeout")
    forwarder = Forwarder(
        rules_from_json(spec_json),
        listen_host=str(spec.get("listen_host") or "0.0.0.0"),
        udp_idle_timeout=float(idle) if idle else None,
        host_alias=str(spec.get("host_alias") or "") or None,
        limits=limits_from_spec(spec.get("limits")),
    )
    try:
        await forwarder.start()
        await until_stopped()
        log.info("svclb: stopping")
    finally:
        await forwarder.stop()


async def until_stopped() -> None:
    """Wait for SIGTERM or SIGINT (the svclb container's stop)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
