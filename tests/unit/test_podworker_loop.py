"""The pod worker never blocks the node's event loop on Docker (issue 11: its init-container step
inspected a container on the loop). Read from the source: in every `async def` of the module,
a Docker call may only be handed to a thread (`asyncio.to_thread(f, ...)`), never called."""

from __future__ import annotations

import ast
from pathlib import Path

import localsvc.node.podearly
import localsvc.node.podworker

# Sync helpers of the worker that call Docker.
BLOCKING_METHODS = {"_inspect", "_infra_running"}
# localsvc.runtime.pods functions that read data already fetched (no Docker call).
PURE_RUNTIME = {"pod_ip", "PodRef", "VolumeError"}
# Local names that hold docker-py objects (containers), whose methods call the engine.
DOCKER_OBJECTS = {"container", "containers", "infra", "found"}


def blocking_calls(source: str) -> list[str]:
    """`function:line call` of each Docker call made on the event loop in `source`."""
    found: list[str] = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and _is_docker_call(node.func):
                found.append(f"{fn.name}:{node.lineno} {ast.unparse(node.func)}")
    return found


def _is_docker_call(func: ast.expr) -> bool:
    if not isinstance(func, ast.Attribute):
        return False
    target = func.value
    if isinstance(target, ast.Name) and target.id == "self":
        return func.attr in BLOCKING_METHODS
    if isinstance(target, ast.Name) and target.id == "rt":
        return func.attr not in PURE_RUNTIME
    if isinstance(target, ast.Name) and target.id in DOCKER_OBJECTS:
        return True
    return "docker" in ast.unparse(target).split(".")


def test_the_pod_worker_hands_every_docker_call_to_a_thread() -> None:
    source = Path(localsvc.node.podworker.__file__).read_text()
    assert blocking_calls(source) == []


def test_the_pod_workers_helpers_hand_every_docker_call_to_a_thread() -> None:
    for module in (localsvc.node.podvolumes, localsvc.node.podimages, localsvc.node.podearly):
        assert blocking_calls(Path(module.__file__ or "").read_text()) == [], module.__name__


def test_the_check_sees_a_blocking_call() -> None:
    """The check itself: the shape of the old init-container step is caught."""
    old = '''
async def _run_init(self, plan):
    container = self._inspect(c.container_id)
    await asyncio.to_thread(container.wait)
    self.ctx.docker.containers.get("x")
    rt.find_pod_containers(self.ctx.docker, env, uid)
    ip = rt.pod_ip(infra, network)
    container.stop(timeout=3)
'''
    assert blocking_calls(old) == [
        "_run_init:3 self._inspect",
        "_run_init:5 self.ctx.docker.containers.get",
        "_run_init:6 rt.find_pod_containers",
        "_run_init:8 container.stop",
    ]
