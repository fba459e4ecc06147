"""Where the host reaches a node's API, and how: its URL, bearer token and pinned CA.

The node serves HTTPS on a port published on the host's 127.0.0.1, with a certificate from the
environment's own CA (runtime/pki.py); the host trusts that CA only, so the token is never sent
to anything else, and never in clear. A plain http:// URL (the test doubles of tests/net) needs no
CA.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cached_property

from localsvc.errors import NodeError
from localsvc.runtime.tls import ssl_client_context


@dataclass(frozen=True)
class NodeAddress:
    url: str  # https://127.0.0.1:PORT
    token: str
    ca_pem: bytes = b""  # the environment's CA certificate (PEM)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context that trusts only the environment's CA; None for http://."""
        if not self.url.startswith("https://"):
            return None
        if not self.ca_pem:
            raise NodeError(f"no CA certificate to verify the node's API at {self.url}; "
                            "run `localsvc up` again")
        return ssl_client_context(self.ca_pem)

    def join(self, path: str) -> str:
        return self.url.rstrip("/") + path


__all__ = ["NodeAddress"]
