"""A pod's containers created while its sandbox starts, as one step with it.

Docker joins a container to its sandbox's namespaces when the container starts, so the pod's
app containers can be created (not started) as soon as the infra container exists, while its
volumes are written and it starts: the pod's containers then only start after it. Which ones is
localsvc.model.kubelet.created_with_sandbox's rule (the first attempt of each app container of a
pod without init containers); an image to be pulled first (imagePullPolicy Always, or not
present: the create fails) is left to the usual path, which pulls and reports, and so is a
container that mounts a subPath (bound from where it resolves in the volume, whose files are
being written) or a hostPath (checked as the sandbox is made).

A container whose environment holds the pod's IP (status.podIP) waits for the sandbox's IP
too: its plan is only final then. The plan is made again once the sandbox has its IP, and a
container made here is taken only for the same plan, attempt and sandbox (one made for a
sandbox since lost is removed). Every container made here carries the pod's labels, so
teardown and a restarted node find it like any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import docker
import docker.errors

from localsvc.model.podplan import ContainerPlan, PodPlan, uses_pod_ip
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.pod")


class EarlyContainers:
    def __init__(self, client: docker.DockerClient, ref: rt.PodRef):
        self.client = client
        self.ref = ref
        # name -> (its plan, the container, the infra container it joins)
        self.made: dict[str, tuple[ContainerPlan, Any, str]] = {}

    def creator(self, names: tuple[str, ...], pod_plan: PodPlan, pod: dict[str, Any]
                ) -> Callable[[str], list[str]] | None:
        """What to run once the infra container exists (in a thread): create the containers
        `names` of `pod` (the Pod object); the ids of those made. None when there are none."""
        host_paths = {v.name for v in pod_plan.volumes if v.kind == "hostPath"}
        by_ip = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []
                 if uses_pod_ip(c)}
        plans = [c for c in pod_plan.containers if c.name in names and c.name not in by_ip
                 and c.pull_policy != "Always" and not c.config_error
                 and not any(m.sub_path or m.volume in host_paths for m in c.mounts)]
        if not plans:
            return None

        def create(infra_id: str) -> list[str]:
            ids = []
            for plan in plans:
                try:
                    container = rt.create_container(self.client, self.ref, plan, infra_id, 0,
                                                    pod_plan.grace_seconds, pod_plan)
                except (docker.errors.APIError, rt.VolumeError) as err:
                    log.debug("pod %s/%s: %s not created early: %s", self.ref.namespace,
                              self.ref.name, plan.name, err)
                    continue  # the usual path creates it, and says what fails
                self.made[plan.name] = (plan, container, infra_id)
                ids.append(container.id)
            return ids

        return create

    async def take(self, plan: ContainerPlan, attempt: int, infra_id: str) -> Any:
        """The container made early for `plan`'s `attempt` in sandbox `infra_id`, if it is
        what the plan asks for now; None otherwise (one made from another plan or for another
        sandbox is removed)."""
        found = self.made.pop(plan.name, None)
        if found is None:
            return None
        if attempt == 0 and found[0] == plan and found[2] == infra_id:
            return found[1]
        await asyncio.to_thread(_remove, found[1])
        return None

    async def discard(self) -> None:
        """The sandbox failed, or another is made: the containers made for it go."""
        made, self.made = self.made, {}
        for _, container, _ in made.values():
            await asyncio.to_thread(_remove, container)


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
