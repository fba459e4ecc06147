"""Pushes each new network Snapshot to the DNS server and the service proxy, once per change.

The controller only calls `update(snapshot)`; a single task applies the latest snapshot, merging
bursts (kube-proxy's bounded sync) and retrying after a failure. The DNS index is swapped at
once; the dataplane (nft ruleset or userspace listeners) follows, only when what it programs
changed (a pod that comes or goes without changing an endpoint touches DNS only).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.node.services import dataplane_view

log = logging.getLogger("localsvc.network")


def programmed_part(snapshot: Snapshot) -> Snapshot:
    """What of a snapshot the dataplane programs: the Services and the node's addresses (pod
    names and IPs are DNS's), without the version; equal parts program the same rules."""
    return replace(snapshot, pods=(), version=0)


class NetworkSync:
    def __init__(self, dataplane: Any, dns: Any):
        self.dataplane = dataplane
        self.dns = dns
        self._latest: Snapshot | None = None
        self._event = asyncio.Event()
        self.applied_version = -1
        self.last_error = ""
        self.last_apply_seconds = 0.0
        self.dataplane_applies = 0  # how often the dataplane was programmed (status, tests)
        self._programmed: Snapshot | None = None  # what the dataplane holds (programmed_part)

    def problems(self) -> list[Unserved]:
        """What the DNS index and the dataplane skipped of the latest snapshot, and why."""
        index = getattr(self.dns, "index", None) if self.dns is not None else None
        return [*getattr(index, "problems", ()), *getattr(self.dataplane, "problems", ())]

    def update(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        if self.dns is not None:
            try:
                self.dns.update(snapshot)
            except Exception as err:  # keep answering from the previous index
                self.last_error = f"DNS index of snapshot {snapshot.version}: {err!r}"
                log.exception("building the DNS index failed; the previous one keeps answering")
        self._event.set()

    async def run(self) -> None:
        while True:
            await self._event.wait()
            self._event.clear()
            snapshot = self._latest
            if snapshot is None or self.dataplane is None:
                continue
            wanted = programmed_part(snapshot)
            # A change of pods only (DNS) programs nothing, unless the dataplane has a listener
            # to retry (the userspace proxy's, when its address was not ready).
            if wanted == self._programmed and not getattr(self.dataplane, "needs_retry", False):
                self.applied_version = snapshot.version
                continue
            started = time.monotonic()
            try:
                await self.dataplane.apply(dataplane_view(snapshot))
                self.dataplane_applies += 1
                self._programmed = wanted
                self.applied_version = snapshot.version
                self.last_error = ""
            except Exception as err:
                self.last_error = str(err)
                log.error("applying the service proxy rules failed (retrying in 1 s): %s", err)
                await asyncio.sleep(1)
                self._event.set()
            self.last_apply_seconds = time.monotonic() - started
