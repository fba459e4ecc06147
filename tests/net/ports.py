"""A loopback port nothing listens on, shared by tests/net."""

from __future__ import annotations

import socket


def free_port(ip: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port on `ip` nothing is bound to (bound by the kernel's choice, then released)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])
