"""Forwarding to the upstream resolvers: which they are, and one exchange with them.

Owns reading resolv.conf, asking each upstream in turn over UDP (retrying a truncated reply over
TCP) or TCP with a fresh random ID, and checking that a reply answers the query asked. It never
answers anything itself; `server.py` decides what to forward.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from dnslib import DNSRecord

log = logging.getLogger("localsvc.dns")


class UpstreamError(Exception):
    """No usable reply from an upstream resolver (timeout, refused, garbage)."""


@dataclass(frozen=True)
class Pending:
    """A query that needs the network: forward it, or chase the CNAME target of `reply`."""

    data: bytes  # the query as received
    request: DNSRecord
    reply: DNSRecord | None = None
    target: str = ""


def resolv_conf_upstreams(path: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The `nameserver` lines of resolv.conf, port 53 (missing or unreadable file: none)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append((words[1].split("%", 1)[0], 53))
    return found


async def exchange(
    query: bytes, upstream: list[tuple[str, int]], timeout: float, tcp: bool, limit: int
) -> bytes:
    """Ask the upstreams in turn with a fresh random ID; the reply comes back with the ID of
    `query`. Over UDP, a truncated reply is retried over TCP and kept if it fits `limit`.
    `timeout` is shared out among the upstreams."""
    if not upstream:
        raise UpstreamError("no upstream resolver")
    ours = query[:2]
    query = os.urandom(2) + query[2:]
    share = timeout / len(upstream)
    for host, port in upstream:
        try:
            async with asyncio.timeout(share):
                if tcp:
                    raw = await _tcp_exchange(query, host, port)
                else:
                    raw = await _udp_exchange(query, host, port)
                    if raw[2] & 0x02:  # TC
                        full = await _tcp_exchange(query, host, port)
                        raw = full if len(full) <= limit else raw
            return ours + raw[2:]
        except (OSError, TimeoutError, UpstreamError, asyncio.IncompleteReadError) as err:
            log.debug("upstream %s:%d: %r", host, port, err)
    raise UpstreamError("no upstream answered")


async def _udp_exchange(query: bytes, host: str, port: int) -> bytes:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, query)
        while True:  # ignore stray datagrams until the reply to this query arrives
            raw = await loop.sock_recv(sock, 65535)
            if _matches(query, raw):
                return raw


async def _tcp_exchange(query: bytes, host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        raw = await reader.readexactly(length)
    finally:
        writer.close()
    if not _matches(query, raw):
        raise UpstreamError("upstream reply does not match the query")
    return raw


def _matches(query: bytes, reply: bytes) -> bool:
    """Same ID, QR set, and the same question (names compared case-insensitively)."""
    if len(reply) < 12 or reply[:2] != query[:2] or not reply[2] & 0x80:
        return False
    end = _question_end(query)
    return end is not None and reply[12:end].lower() == query[12:end].lower()


def _question_end(message: bytes) -> int | None:
    """Where the only question of `message` ends (after QTYPE and QCLASS), if it has one."""
    end = name_end(message)
    return end + 4 if end is not None and end + 4 <= len(message) else None


def name_end(message: bytes) -> int | None:
    """Where the name of the only question ends: None for no or several questions, a name
    with compression pointers, or a message cut short."""
    if message[4:6] != b"\x00\x01":
        return None
    at = 12
    size = len(message)
    while at < size:
        length = message[at]
        if length == 0:
            return at + 1
        if length & 0xC0:
            return None
        at += 1 + length
    return None
