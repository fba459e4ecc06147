"""Opening a node URL from the host without any HTTP proxy.

Calls to the node never go through an HTTP proxy: they carry the environment's bearer token, and
CI runners often set HTTP_PROXY/ALL_PROXY for the outside world. The node is on loopback (or the
Docker host's published address), which a proxy cannot reach anyway, and NO_PROXY is not relied
on (its syntax differs between tools). `open_direct` is the one way the host opens a node URL:
the node client (host/client.py) and the health wait of runtime/environment.py both use it.
"""

from __future__ import annotations

import urllib.request
from typing import IO

# An opener with an empty ProxyHandler ignores every *_proxy environment variable.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def open_direct(request: urllib.request.Request | str, timeout: float) -> IO[bytes]:
    """urlopen without any proxy (see the module's docstring); raises what urlopen raises."""
    response: IO[bytes] = _DIRECT.open(request, timeout=timeout)
    return response
