"""Opening a node URL from the host without any HTTP proxy.

Calls to the node never go through an HTTP proxy: they carry the environment's bearer token, and
CI runners often set HTTP_PROXY/ALL_PROXY for the outside world. The node is on loopback (or the
Docker host's published address), which a proxy cannot reach anyway, and NO_PROXY is not relied
on (its syntax differs between tools). `open_direct` is the one way the host opens a node URL:
the node client (host/client.py) and the health wait of runtime/environment.py both use it.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
import urllib.request
from typing import IO

# An opener with an empty ProxyHandler ignores every *_proxy environment variable.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@lru_cache(maxsize=8)
def _tls_opener(context: ssl.SSLContext) -> urllib.request.OpenerDirector:
    """One opener per TLS context (an environment's pinned CA), built once, not per request."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                       urllib.request.HTTPSHandler(context=context))


def open_direct(request: urllib.request.Request | str, timeout: float,
                context: ssl.SSLContext | None = None) -> IO[bytes]:
    """urlopen without any proxy (see the module's docstring); raises what urlopen raises.
    `context`: the TLS context of an https:// URL (the node's: it trusts the environment's CA)."""
    opener = _DIRECT if context is None else _tls_opener(context)
    response: IO[bytes] = opener.open(request, timeout=timeout)
    return response
