"""HTTPS client for the node's API, used on the host (stdlib only, synchronous): the Kubernetes
API (get, list, watch, delete, patch: kubepaths.py builds the paths) and the private /v1 routes.

Calls to the node never go through an HTTP proxy: every request goes through
`localsvc.net.direct.open_direct` (its docstring says why).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import IO, Any

from localsvc.errors import LocalsvcError, ManifestError, NodeError, NotFound, Problem
from localsvc.net.direct import open_direct
from localsvc.runtime.nodeaddress import NodeAddress

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def error_of(code: int, payload: Any, fallback: str) -> LocalsvcError:
    """The LocalsvcError of an error answer. Pure. A Kubernetes API answer is a metav1.Status
    (kind Status: its message); a /v1 route answers {"error": ..., "problems": [...]}.
    404 is NotFound, the /v1 apply's validation problems a ManifestError, the rest NodeError."""
    if not isinstance(payload, dict):
        payload = {}
    if payload.get("kind") == "Status":
        message = str(payload.get("message") or fallback)
    else:
        message = str(payload.get("error") or fallback)
    if code == 422 and isinstance(payload.get("problems"), list):
        return ManifestError([Problem(**p) for p in payload["problems"]])
    if code == 404:
        return NotFound(message)
    return NodeError(message)


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

    def delete(self, path: str, body: Any = None) -> Any:
        """DELETE (a Kubernetes delete takes DeleteOptions as its body)."""
        return self._call("DELETE", path, body)

    def patch(self, path: str, body: Any, content_type: str = MERGE_PATCH) -> Any:
        """PATCH with the patch type as the content type (merge, JSON, strategic merge)."""
        return self._call("PATCH", path, body, content_type)

    def watch(self, path: str) -> Iterator[dict[str, Any]]:
        """The events of a Kubernetes watch (`path` with watch=1 and, so that it ends,
        timeoutSeconds), one {"type", "object"} per line, until the server closes it. A version
        too old for the server comes as an ERROR event whose object is the 410 Status."""
        with self.open_stream(path) as response:
            for line in response:
                if line.strip():
                    yield json.loads(line)

    def open_stream(self, path: str) -> IO[bytes]:
        """The node's answer to a GET, open, for a caller that reads it as it comes (a watch)
        and may end it early."""
        return self._open("GET", path, None, JSON)

    def _call(self, method: str, path: str, body: Any, content_type: str = JSON) -> Any:
        with self._open(method, path, body, content_type) as response:
            return json.load(response)

    def _open(self, method: str, path: str, body: Any, content_type: str) -> IO[bytes]:
        try:
            return self._open_once(method, path, body, content_type)
        except NodeError as err:
            if self.refresh is None or not isinstance(err.__cause__, urllib.error.URLError | OSError):
                raise
            self.address = self.refresh()
            return self._open_once(method, path, body, content_type)

    def _open_once(self, method: str, path: str, body: Any,
                   content_type: str) -> IO[bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type,
                     "Accept": JSON},
        )
        try:
            return open_direct(request, timeout=self.timeout, context=self.address.ssl_context)
        except urllib.error.HTTPError as err:
            try:
                payload = json.load(err)
            except ValueError:
                payload = {}
            raise error_of(err.code, payload, str(err.reason or err)) from None
        except (urllib.error.URLError, OSError) as err:
            raise NodeError(
                f"cannot reach the node's API at {self.url}: {err}. Is the environment up? "
                "(`localsvc ls`)"
            ) from err
