"""Small helpers the benchmark scripts share (free host ports, HTTP GET, polling)."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port(low: int, span: int = 2000) -> int:
    """A port nothing on this machine's loopback holds now, from `low` upwards."""
    for port in range(low, low + span):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {low}-{low + span}")


def get(url: str, timeout: float = 2.0) -> str:
    """The body of a GET, or "" when it fails."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def wait_until(predicate: Callable[[], object], timeout: float = 180.0, what: str = "condition",
               interval: float = 0.02) -> float:
    """Seconds until `predicate()` is true, asked every `interval` s; TimeoutError naming `what`
    after `timeout`."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
