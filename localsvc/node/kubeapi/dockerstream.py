"""Docker's upgraded streams (exec start, container attach) as asyncio connections.

docker-py's `exec_start(socket=True)` and `attach_socket` hand over a blocking socket whose HTTP
reader may already hold the first bytes of the stream (a quick `echo` loses its output), and its
log stream is a blocking iterator. This module speaks HTTP to the engine over its own asyncio
connection instead: the upgrade request, the `101 UPGRADED` answer, then the raw stream, nothing
read ahead lost (a log, a plain GET, is read with aiohttp's client: node/kubeapi/podlogs.py). No
blocking call on the event loop. Closing it ends the engine's side (an exec's stdin reads its
EOF). Where the engine is (engine_endpoint, engine_connector) and what its error bodies say
(engine_message) are decided here for both.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp

from localsvc.errors import EngineError
from localsvc.runtime.engine import resolve_endpoint

CONNECT_TIMEOUT = 10.0
HEADER_LIMIT = 64 * 1024


class DockerStreamError(Exception):
    """The engine refused (status: its HTTP status) or could not be reached (status 0)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass
class DockerStream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_stdin(self) -> None:
        """Half-close: the process reads EOF on its stdin, its output keeps coming."""
        if self.writer.can_write_eof() and not self.writer.is_closing():
            self.writer.write_eof()

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        except (OSError, TimeoutError):
            pass


@dataclass(frozen=True)
class EngineEndpoint:
    """Where the engine listens: its unix socket `path`, else TCP `host`:`port`."""

    path: str = ""
    host: str = ""
    port: int = 2375


def engine_endpoint() -> EngineEndpoint:
    """The engine as the docker CLI finds it (DOCKER_HOST, else the socket); DockerStreamError
    when it cannot be found or is neither unix:// nor tcp://."""
    try:
        host = resolve_endpoint(os.environ).host
    except EngineError as err:
        raise DockerStreamError(str(err)) from None
    parsed = urllib.parse.urlparse(host)
    if parsed.scheme == "unix":
        return EngineEndpoint(path=parsed.path)
    if parsed.scheme in ("tcp", "http"):
        return EngineEndpoint(host=parsed.hostname or "", port=parsed.port or 2375)
    raise DockerStreamError(f"DOCKER_HOST {host!r}: only unix:// and tcp:// engines are streamed")


def engine_connector() -> tuple[aiohttp.BaseConnector, str]:
    """An aiohttp connector to the engine and the base URL to ask it with. No limit on its
    connections: each followed log holds one for as long as it runs."""
    endpoint = engine_endpoint()
    if endpoint.path:
        return aiohttp.UnixConnector(path=endpoint.path, limit=0), "http://docker"
    return aiohttp.TCPConnector(limit=0), f"http://{endpoint.host}:{endpoint.port}"


def engine_message(body: bytes) -> str:
    """The message of an engine's error body (JSON {"message": ...}, else the text)."""
    try:
        return str(json.loads(body).get("message", body.decode(errors="replace")))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()


async def _connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    endpoint = engine_endpoint()
    if endpoint.path:
        return await asyncio.wait_for(asyncio.open_unix_connection(endpoint.path),
                                      CONNECT_TIMEOUT)
    return await asyncio.wait_for(asyncio.open_connection(endpoint.host, endpoint.port),
                                  CONNECT_TIMEOUT)


async def open_stream(api_version: str, path: str,
                      body: dict[str, Any] | None = None) -> DockerStream:
    """POST `path` (e.g. /exec/ID/start) with the upgrade headers; the stream once upgraded."""
    payload = json.dumps(body).encode() if body is not None else b""
    return await _open(f"POST /v{api_version}{path}",
                       ["Connection: Upgrade", "Upgrade: tcp", "Content-Type: application/json",
                        f"Content-Length: {len(payload)}"], payload, ("101", "200"))


async def _open(request_line: str, headers: list[str], payload: bytes,
                accepted: tuple[str, ...]) -> DockerStream:
    reader, writer = await _connect()
    request = "\r\n".join([f"{request_line} HTTP/1.1", "Host: docker", *headers, "", ""])
    path = request_line.split(" ", 1)[1]
    try:
        writer.write(request.encode() + payload)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        status_line = head.decode("latin-1").split("\r\n", 1)[0]
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] not in accepted:
            text = await _error_text(reader, head)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            raise DockerStreamError(f"{status_line}: {text}", status)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            TimeoutError) as err:
        writer.close()
        raise DockerStreamError(f"the engine's stream {path}: {type(err).__name__}: {err}") \
            from None
    except BaseException:  # refused, or cancelled (the node stops) while waiting: close it
        writer.close()
        raise
    return DockerStream(reader, writer)


async def _error_text(reader: asyncio.StreamReader, head: bytes) -> str:
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1].strip() or 0)
    body = await asyncio.wait_for(reader.read(min(length or 4096, HEADER_LIMIT)), 2.0)
    return engine_message(body)
