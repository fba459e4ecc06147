"""A pod container's image, made present per its imagePullPolicy with the kubelet's Pulling,
Pulled and Failed events (the pull itself is runtime/pods.py's)."""

from __future__ import annotations

import asyncio
import time

import docker

from localsvc.model import kubelet
from localsvc.model.kubelet_state import ContainerState
from localsvc.model.podplan import ContainerPlan
from localsvc.node.podevents import PodEvents, pull_error
from localsvc.runtime import pods as rt


async def ensure_image(client: docker.DockerClient, c: ContainerState, plan: ContainerPlan,
                       events: PodEvents) -> bool:
    """Whether the image is there; a failed pull marks `c` (ErrImagePull, back-off)."""
    loop = asyncio.get_running_loop()
    began = time.monotonic()

    def on_pull() -> None:  # in the pull's thread: recorded on the loop
        loop.call_soon_threadsafe(events.pulling, c.name, c.init, plan.image)
    try:
        size = await asyncio.to_thread(rt.ensure_image, client, plan.image, plan.pull_policy,
                                       on_pull)
    except rt.ImageMissing as err:
        kubelet.image_pull_failed(c, str(err), time.time())
        events.pull_failed(c.name, c.init, plan.image, plan.pull_policy == "Never",
                           pull_error(err))
        return False
    events.pulled(c.name, c.init, plan.image, size is not None, time.monotonic() - began,
                  size or 0)
    return True


__all__ = ["ensure_image"]
