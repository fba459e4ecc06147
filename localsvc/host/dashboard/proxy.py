"""The dashboard's requests to the node's API: the environment's bearer token added here (the
browser never sees it), TLS verified against the environment's own CA (as kubectl does), and
the answer streamed back chunk by chunk, so that a watch or a followed log reaches the page as it
happens. A browser that goes away cancels its handler (the runner cancels handlers), which
closes the upstream request: the node's watch ends with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
from aiohttp import web

from localsvc.model.kubeapi.status import status
from localsvc.runtime.nodeaddress import NodeAddress

# Request headers passed on: what the Kubernetes API reads (the patch type, the answer format:
# JSON or a Table). Cookies, Authorization and the rest stay with the dashboard.
REQUEST_HEADERS = ("Content-Type", "Accept")
# Answer headers passed back; the length and transfer encoding are the dashboard's own.
RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "Warning")
CONNECT_TIMEOUT = 10.0
READ_SIZE = 64 * 1024


def status_body(code: int, reason: str, message: str) -> bytes:
    """A metav1.Status, the shape every Kubernetes client (and the page) reads errors in."""
    return json.dumps(status(code, reason, message)).encode()


def status_response(code: int, reason: str, message: str) -> web.Response:
    return web.Response(status=code, body=status_body(code, reason, message),
                        content_type="application/json")


class NodeProxy:
    """One HTTP client session to the node, for every request of the dashboard."""

    def __init__(self, address: NodeAddress,
                 refresh: Callable[[], NodeAddress] | None = None):
        """`refresh` gives the node's address anew when it cannot be reached (a restarted node
        may be published on another port); the request is then tried once more."""
        self.address = address
        self.refresh = refresh
        self.open_streams = 0  # upstream answers being relayed now (tests watch it drop)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env=False: never through an HTTP proxy of the environment's variables (the
            # token would go there). No total timeout: a watch lasts as long as the page does.
            self._session = aiohttp.ClientSession(
                trust_env=False, auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT))
        return self._session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {name: request.headers[name] for name in REQUEST_HEADERS
                   if name in request.headers}
        try:
            upstream = await self.send(request.method, request.rel_url.raw_path_qs, headers,
                                       body)
        except (aiohttp.ClientError, OSError) as err:
            return status_response(502, "ServiceUnavailable", self.unreachable(err))
        self.open_streams += 1
        try:
            return await self._relay(request, upstream)
        finally:
            self.open_streams -= 1
            upstream.close()  # unread answers (a watch the page left) close the connection

    def unreachable(self, err: BaseException) -> str:
        return (f"cannot reach the environment's API at {self.address.url}: {err}; is the "
                "environment up? (`localsvc ls`)")

    async def send(self, method: str, path_qs: str, headers: dict[str, str],
                   body: bytes = b"") -> aiohttp.ClientResponse:
        """The node's answer, its body unread (the caller closes it)."""
        try:
            return await self._send_once(method, path_qs, headers, body)
        except aiohttp.ClientConnectorError:
            if self.refresh is None:
                raise
            # Docker is asked where the node is now; a blocking call, off the event loop.
            self.address = await asyncio.get_running_loop().run_in_executor(None, self.refresh)
            return await self._send_once(method, path_qs, headers, body)

    async def _send_once(self, method: str, path_qs: str, headers: dict[str, str],
                         body: bytes) -> aiohttp.ClientResponse:
        context = self.address.ssl_context
        return await self._client().request(
            method, self.address.join(path_qs), data=body or None, allow_redirects=False,
            headers={**headers, "Authorization": f"Bearer {self.address.token}"},
            ssl=context if context is not None else True)

    @staticmethod
    async def _relay(request: web.Request,
                     upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name in RESPONSE_HEADERS:
            if name in upstream.headers:
                response.headers[name] = upstream.headers[name]
        if "Content-Encoding" in upstream.headers:  # passed through undecoded
            response.headers["Content-Encoding"] = upstream.headers["Content-Encoding"]
        response.headers["X-Content-Type-Options"] = "nosniff"
        # An answer opened as a page (a pod's HTML through a service's /proxy path) runs in a
        # sandbox of its own origin, never as the dashboard with its session.
        response.headers["Content-Security-Policy"] = ("sandbox; default-src 'none'; "
                                                       "frame-ancestors 'none'")
        await response.prepare(request)
        # iter_any: each chunk as soon as it arrives (one watch event is one chunk), not a
        # buffer's worth.
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
            # The node broke off (it restarted, its environment went): the browser's answer is
            # cut off as well, never ended cleanly, so that the page sees a failed stream (and
            # resumes its watch) rather than a complete one, as kubectl proxy does.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response


__all__ = ["NodeProxy", "status_body", "status_response"]
