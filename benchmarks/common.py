"""Small helpers the benchmark scripts share (free host ports, HTTP GET, polling, a fresh
environment with the images it needs, a kubeconfig file for kubectl)."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import yaml

from localsvc.host.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
DEMO = "localsvc-examples/demo:1"


def bench_environment(prefix: str) -> Environment:
    """A new environment named `prefix`-<random> (not yet created), with the node and demo images
    built first, so that no build counts in a figure."""
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples" / "images" / "demo", DEMO,
                         lambda m: print(m, file=sys.stderr))
    return Environment(f"{prefix}-{uuid.uuid4().hex[:6]}", node_image=node_image)


def write_kubeconfig(env: Environment, path: Path) -> Path:
    """The environment's kubeconfig in `path` (owner-only: it holds the token), for kubectl."""
    path.write_text(yaml.safe_dump(env.kubeconfig()))
    path.chmod(0o600)
    return path


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
