"""Garbage collection of pod leftovers: containers and volumes labelled with a pod uid the node
no longer knows, left behind when a previous node process died while deleting a pod.

`leftover_uids` decides (pure); `collect_garbage` lists and removes (Docker, off the loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Set
from typing import Any

import docker

from localsvc.runtime import labels as L
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.garbage")
GC_PERIOD = 10.0  # seconds between collections (the sync loop runs them)


def leftover_uids(known: Set[str], container_uids: Iterable[str],
                  volume_uids: Iterable[str]) -> set[str]:
    """Pod uids with containers or volumes but no known pod (containers and volumes without a
    uid label are not pods' and never collected)."""
    return (set(container_uids) | set(volume_uids)) - set(known) - {""}


async def collect_garbage(client: docker.DockerClient, env: str,
                          known: Callable[[], Set[str]]) -> set[str]:
    """Remove the containers and volumes of pods not in `known()`; the uids removed.

    `known()` is asked after Docker's lists, not before: a pod created while they ran (its
    worker makes its volumes at once) would otherwise look like a leftover and lose its volumes
    and containers; Docker then made empty, unlabelled volumes of those names for its
    containers."""
    selector = {"label": [f"{L.ENV}={env}", L.POD_UID]}
    containers = await asyncio.to_thread(client.containers.list, all=True, filters=selector)
    by_uid: dict[str, list[Any]] = {}
    for container in containers:
        by_uid.setdefault(container.labels.get(L.POD_UID, ""), []).append(container)
    volumes = await asyncio.to_thread(client.volumes.list, filters=selector)
    volume_uids = [(v.attrs.get("Labels") or {}).get(L.POD_UID, "") for v in volumes]
    leftovers = leftover_uids(known(), by_uid, volume_uids)
    for uid in sorted(leftovers):
        log.info("removing leftovers of deleted pod uid %s", uid)
        await asyncio.to_thread(rt.remove_containers, by_uid.get(uid, []), 2)
        await asyncio.to_thread(rt.remove_volumes, client, env, uid)
    return leftovers


__all__ = ["GC_PERIOD", "collect_garbage", "leftover_uids"]
