"""Pushes the network Snapshot to the DNS server and the service proxy, only what changed.

With the object store (`subscribe`), the store's watch events drive both, informer style (see
node/subscriber.py): the DNS index is updated when an event touches a Service, Endpoints,
EndpointSlice or Pod, reusing the records of every unchanged Service; the dataplane is
re-rendered only when an event touches a Service or its endpoints (a pod that comes or goes
without changing an endpoint touches DNS only). The controller hands on the latest snapshot (the
pure input of the renderers) with `update(snapshot)` and calls `catch_up()` after publishing
into the store. A single task applies the dataplane, merging bursts (kube-proxy's bounded sync)
and retrying after a failure. Without a store, every new snapshot is taken as changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.node.objectstore import ObjectStore, WatchEvent
from localsvc.node.services import dataplane_view
from localsvc.node.subscriber import StoreSubscriber

log = logging.getLogger("localsvc.network")

DATAPLANE_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice"})
DNS_KINDS = DATAPLANE_KINDS | {"Pod"}


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
        self._dns_changes: StoreSubscriber | None = None
        self._dataplane_changes: StoreSubscriber | None = None
        self._dataplane_due = True  # an event touched what it programs since it last applied
        self._dns_version = -1  # the snapshot version the DNS index was last built from
        self.dns_updates = 0  # how often the DNS index was updated (status, tests)

    def subscribe(self, store: ObjectStore) -> None:
        """Take the store's events as what changed (instead of every new snapshot)."""
        self._dns_changes = StoreSubscriber(store, DNS_KINDS)
        self._dataplane_changes = StoreSubscriber(store, DATAPLANE_KINDS)
        store.add_listener(self._woken)

    def problems(self) -> list[Unserved]:
        """What the DNS index and the dataplane skipped of the latest snapshot, and why."""
        index = getattr(self.dns, "index", None) if self.dns is not None else None
        return [*getattr(index, "problems", ()), *getattr(self.dataplane, "problems", ())]

    def update(self, snapshot: Snapshot) -> None:
        """The latest snapshot; without a store, DNS takes it at once."""
        self._latest = snapshot
        if self._dns_changes is None:
            self._update_dns(snapshot)
        self._event.set()

    def catch_up(self) -> None:
        """Apply the store's events since the last call (the controller calls this after each
        publish): DNS now, when they touch what it answers; the dataplane in its task."""
        if self._dns_changes is None or self._latest is None:
            return
        changes = self._dns_changes.changes()
        # A Pod whose status changed without a new IP leaves the snapshot as it was: no update.
        if changes.relisted or (changes and self._latest.version != self._dns_version):
            self._update_dns(self._latest)

    def _woken(self, event: WatchEvent) -> None:
        if event.key.split("/", 1)[0] in DATAPLANE_KINDS:
            self._event.set()

    def _update_dns(self, snapshot: Snapshot) -> None:
        if self.dns is None:
            return
        try:
            self.dns.update(snapshot)
            self._dns_version = snapshot.version
            self.dns_updates += 1
        except Exception as err:  # keep answering from the previous index
            self.last_error = f"DNS index of snapshot {snapshot.version}: {err!r}"
            log.exception("building the DNS index failed; the previous one keeps answering")

    def _dataplane_touched(self) -> bool:
        """Whether an event touched a Service or its endpoints since the dataplane last applied
        (always, without a store: the snapshot comparison decides)."""
        if self._dataplane_changes is None:
            return True
        if self._dataplane_changes.changes():
            self._dataplane_due = True
        return self._dataplane_due

    async def run(self) -> None:
        while True:
            await self._event.wait()
            self._event.clear()
            snapshot = self._latest
            if snapshot is None or self.dataplane is None:
                continue
            # A change of pods only (DNS) programs nothing, unless the dataplane has a listener
            # to retry (the userspace proxy's, when its address was not ready).
            retry = bool(getattr(self.dataplane, "needs_retry", False))
            wanted = programmed_part(snapshot)
            if not retry and (not self._dataplane_touched() or wanted == self._programmed):
                self._dataplane_due = False
                self.applied_version = snapshot.version
                continue
            started = time.monotonic()
            try:
                await self.dataplane.apply(dataplane_view(snapshot))
                self.dataplane_applies += 1
                self._programmed = wanted
                self._dataplane_due = False
                self.applied_version = snapshot.version
                self.last_error = ""
            except Exception as err:
                self.last_error = str(err)
                log.error("applying the service proxy rules failed (retrying in 1 s): %s", err)
                await asyncio.sleep(1)
                self._event.set()
            self.last_apply_seconds = time.monotonic() - started
