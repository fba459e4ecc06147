"""A hijacked Docker stream (exec start, container attach) as an asyncio connection.

docker-py's `exec_start(socket=True)` and `attach_socket` hand over a blocking socket whose HTTP
reader may already hold the first bytes of the stream (a quick `echo` loses its output). This
module speaks the same upgrade over its own asyncio connection to the engine instead: the
request, the `101 UPGRADED` answer, then the raw stream, nothing read ahead lost and no blocking
call on the event loop. Closing it ends the engine's side (a TTY session sees its hangup).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

CONNECT_TIMEOUT = 10.0
HEADER_LIMIT = 64 * 1024
DEFAULT_HOST = "unix:///var/run/docker.sock"


class DockerStreamError(Exception):
    pass


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


async def _connect(host: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = urllib.parse.urlparse(host)
    if parsed.scheme == "unix":
        return await asyncio.wait_for(asyncio.open_unix_connection(parsed.path),
                                      CONNECT_TIMEOUT)
    if parsed.scheme in ("tcp", "http"):
        return await asyncio.wait_for(
            asyncio.open_connection(parsed.hostname, parsed.port or 2375), CONNECT_TIMEOUT)
    raise DockerStreamError(f"DOCKER_HOST {host!r}: only unix:// and tcp:// engines are streamed")


async def open_stream(api_version: str, path: str, body: dict[str, Any] | None = None,
                      host: str | None = None) -> DockerStream:
    """POST `path` (e.g. /exec/ID/start) with the upgrade headers; the stream once upgraded."""
    reader, writer = await _connect(host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST)
    payload = json.dumps(body).encode() if body is not None else b""
    request = (f"POST /v{api_version}{path} HTTP/1.1\r\nHost: docker\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    try:
        writer.write(request.encode() + payload)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] not in ("101", "200"):
            text = await _error_text(reader, head)
            raise DockerStreamError(f"{status_line}: {text}")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            TimeoutError) as err:
        writer.close()
        raise DockerStreamError(f"the engine's stream {path}: {type(err).__name__}: {err}") \
            from None
    except DockerStreamError:
        writer.close()
        raise
    return DockerStream(reader, writer)


async def _error_text(reader: asyncio.StreamReader, head: bytes) -> str:
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1].strip() or 0)
    body = await asyncio.wait_for(reader.read(min(length or 4096, HEADER_LIMIT)), 2.0)
    try:
        return str(json.loads(body).get("message", body.decode(errors="replace")))
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()
