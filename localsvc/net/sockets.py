"""Binding the listening sockets of the node's servers and relays (DNS, service proxy, svclb).

Sockets are bound synchronously, before any event loop serves them: traffic queues in the kernel
from then on, and a port that cannot be had is known at once.
"""

from __future__ import annotations

import socket

BACKLOG = 1024  # pending connections the kernel queues before accept (pass it to create_server)
IP_FREEBIND = 15  # Linux; not exported by the socket module


def listening_socket(host: str, port: int, kind: int, *, freebind: bool = False) -> socket.socket:
    """A non-blocking socket of `kind` (SOCK_STREAM: listening) bound to host:port.

    `freebind` lets an IPv4 socket bind an address not (yet) on any interface (a ClusterIP the
    dataplane has not added yet). Raises OSError; the socket is closed then.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # A restarted server rebinds at once although old connections are in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if freebind and family == socket.AF_INET:
            try:
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            except OSError:
                pass  # not Linux: bind may then fail for an address not yet configured
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
