"""A pod worker's volumes: creating the sandbox with them, and keeping configMap, secret and
projected files up to date in a running pod, as the kubelet's periodic volume sync does.

The pod worker calls `sync` at every step (each wake: the controller wakes every worker after
an apply, so a changed ConfigMap reaches the files within a second or so). What changed is
decided by model/atomicwriter.py against what this worker last wrote (or, for a pod adopted from
a previous node process, what the volume holds); the Docker calls are runtime/filevolumes.py's.
A non-optional ConfigMap that disappears makes no plan at all (podplan's ConfigError): the files
stay as they were, as with the kubelet, whose volume setup then fails while the pod runs on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import docker

from localsvc.model.atomicwriter import Written, check_paths, plan_write
from localsvc.model.podplan import PodPlan
from localsvc.model.podvolumes import FILE_VOLUMES
from localsvc.runtime import filevolumes
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.pod")


class PodVolumes:
    def __init__(self, client: docker.DockerClient, ref: rt.PodRef):
        self.client = client
        self.ref = ref
        self.written: dict[str, Written] = {}  # file volume -> what its directory holds

    async def create_sandbox(self, plan: PodPlan, image: str, resolv: str | None,
                             alongside: Callable[[str], list[str]] | None = None) -> Any:
        """The pod's volumes and infra container (`alongside`: see rt.create_infra). Raises
        rt.VolumeError or APIError."""
        await asyncio.to_thread(rt.create_volumes, self.client, self.ref, plan)
        infra, written = await asyncio.to_thread(rt.create_infra, self.client, self.ref, plan,
                                                 image, resolv, alongside)
        self.written = written
        return infra

    def forget(self) -> None:
        """The sandbox is gone: the next one writes every file volume afresh."""
        self.written = {}

    async def sync(self, infra_id: str, plan: PodPlan) -> None:
        """Bring every file volume of the running sandbox to the plan's payload."""
        api = self.client.api
        for volume in plan.volumes:
            if volume.kind not in FILE_VOLUMES:
                continue
            payload = volume.payload()
            current = self.written.get(volume.name)
            try:
                if current is None:
                    current = await asyncio.to_thread(filevolumes.read_written, api, infra_id,
                                                      volume.name)
                    self.written[volume.name] = current
                update = plan_write(current, payload, filevolumes.new_ts_dir())
                if update is None:
                    continue
                problem = check_paths(payload)
                if problem:
                    log.warning("pod %s/%s: volume %s: %s", self.ref.namespace, self.ref.name,
                                volume.name, problem)
                    continue
                await asyncio.to_thread(filevolumes.update, api, infra_id, volume.name, update)
            except Exception as err:  # noqa: BLE001 - never in the way of the pod's own steps
                # Tried again at the next step; the files stay as they were meanwhile.
                log.warning("pod %s/%s: updating volume %s: %s", self.ref.namespace,
                            self.ref.name, volume.name, err)
                continue
            self.written[volume.name] = Written(update.ts_dir, update.files)
            log.info("pod %s/%s: volume %s updated", self.ref.namespace, self.ref.name,
                     volume.name)


__all__ = ["PodVolumes"]
