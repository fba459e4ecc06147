"""The TLS contexts of the node's API, from the standard library's ssl only.

Both ends import this without `cryptography` (20 MB of resident memory in a process that lives
as long as its environment): the node loads the certificate files runtime/pki.py made, and the
host pins the environment's CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from localsvc.model.nodeconfig import SERVING_CERT_FILE, SERVING_KEY_FILE


def ssl_server_context(directory: Path) -> ssl.SSLContext:
    """The API server's TLS context (for aiohttp's web.TCPSite ssl_context) from the serving
    certificate in `directory`: TLS 1.2 or later, HTTP/1.1 only over ALPN (aiohttp speaks no
    HTTP/2, and exec/port-forward upgrade)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(directory / SERVING_CERT_FILE, directory / SERVING_KEY_FILE)
    context.set_alpn_protocols(["http/1.1"])
    return context


def ssl_client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only this environment's CA and checks the server's name:
    connect with server_hostname="127.0.0.1" (matched against the IP SAN)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


__all__ = ["ssl_client_context", "ssl_server_context"]
