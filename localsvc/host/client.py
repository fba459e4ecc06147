"""HTTPS client for the node's API, used on the host (stdlib only, synchronous).

Calls to the node never go through an HTTP proxy: every request goes through
`localsvc.net.direct.open_direct` (its docstring says why).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import IO, Any

from localsvc.errors import ManifestError, NodeError, NotFound, Problem
from localsvc.net.direct import open_direct
from localsvc.runtime.nodeaddress import NodeAddress


class NodeClient:
    def __init__(self, address: NodeAddress, timeout: float = 60.0,
                 refresh: Callable[[], NodeAddress] | None = None):
        """`refresh` gives the node's address anew when it cannot be reached (a restarted node
        may be published on another port); the call is then tried once more."""
        self.address = address
        self.timeout = timeout
        self.refresh = refresh

    @property
    def url(self) -> str:
        return self.address.url.rstrip("/")

    @property
    def token(self) -> str:
        return self.address.token

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, body: Any) -> Any:
        try:
            return self._call_once(method, path, body)
        except NodeError as err:
            if self.refresh is None or not isinstance(err.__cause__, urllib.error.URLError | OSError):
                raise
            self.address = self.refresh()
            return self._call_once(method, path, body)

    def _call_once(self, method: str, path: str, body: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with open_direct(request, timeout=self.timeout,
                             context=self.address.ssl_context) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            try:
                payload = json.load(err)
            except ValueError:
                payload = {"error": err.reason}
            message = payload.get("error", str(err))
            if err.code == 422 and "problems" in payload:
                raise ManifestError([Problem(**p) for p in payload["problems"]]) from None
            if err.code == 404:
                raise NotFound(message) from None
            raise NodeError(message) from None
        except (urllib.error.URLError, OSError) as err:
            raise NodeError(
                f"cannot reach the node's API at {self.url}: {err}. Is the environment up? "
                "(`localsvc ls`)"
            ) from err
