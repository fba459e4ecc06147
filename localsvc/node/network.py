"""Keeps the DNS server and the service proxy equal to the store's Services and endpoints.

This is the node's kube-proxy and CoreDNS: like them, it reads only the object store, never the
controller's tables. It follows the store's Service, EndpointSlice and Pod events (a
StoreSubscriber, informer style) and keeps a model.storesnapshot.StoreSnapshot, which
re-derives only the Services an event touches. When the derived Snapshot changed, the DNS index
is updated at once (reusing the records of every unchanged Service) and the dataplane task is
woken; the task programs the rules only when what they are made of changed (a pod that comes or
goes without changing an endpoint touches DNS only), merging bursts (kube-proxy's bounded sync)
and retrying after a failure. The controller calls `catch_up()` after each publish.

Without a store (`update(snapshot)`, the unit tests of the renderers), every snapshot handed in
is taken as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.model.storesnapshot import StoreSnapshot
from localsvc.node.objectstore import ObjectStore
from localsvc.node.services import dataplane_view
from localsvc.node.subscriber import StoreSubscriber

log = logging.getLogger("localsvc.network")

# What the Snapshot is derived from (Endpoints are mirrored by EndpointSlices).
NETWORK_KINDS = frozenset({"Service", "EndpointSlice", "Pod"})


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
        self._store: ObjectStore | None = None
        self._changes: StoreSubscriber | None = None
        self._derived: StoreSnapshot | None = None
        self.dns_updates = 0  # how often the DNS index was updated (status, tests)
        # Where the last change's time went before the dataplane task (status, benchmarks).
        self.last_derive_seconds = 0.0  # store events -> the new Snapshot
        self.last_dns_seconds = 0.0  # the DNS index update

    @property
    def version(self) -> int | None:
        """The version of the latest snapshot (the dataplane has applied it when
        `applied_version` reaches it); None before the first."""
        return self._latest.version if self._latest is not None else None

    @property
    def latest(self) -> Snapshot | None:
        """The latest snapshot taken: what the dataplane programs, or is about to."""
        return self._latest

    def subscribe(self, store: ObjectStore, derived: StoreSnapshot) -> None:
        """Follow `store`: its events are what changed, `derived` turns them into snapshots."""
        self._store = store
        self._derived = derived
        self._changes = StoreSubscriber(store, NETWORK_KINDS)

    def problems(self) -> list[Unserved]:
        """What the DNS index and the dataplane skipped of the latest snapshot, and why. (What
        the snapshot itself left out, the controller reports: it derives the same objects.)"""
        index = getattr(self.dns, "index", None) if self.dns is not None else None
        return [*getattr(index, "problems", ()), *getattr(self.dataplane, "problems", ())]

    def update(self, snapshot: Snapshot) -> None:
        """Take `snapshot` as the latest (only without a store)."""
        if self._changes is not None:
            raise RuntimeError("this NetworkSync follows a store: it derives its own snapshots")
        self._take(snapshot)

    def catch_up(self) -> None:
        """Take the store's events since the last call: DNS now when the snapshot changed, the
        dataplane in its task."""
        if self._changes is None or self._store is None or self._derived is None:
            return
        changes = self._changes.changes()
        if not changes:
            return
        store = self._store
        started = time.perf_counter()
        if changes.relisted:
            self._derived.relist({key: obj for key in store.keys()
                                  if key.split("/", 1)[0] in NETWORK_KINDS
                                  and (obj := store.get(key)) is not None})
        else:
            self._derived.apply({key: store.get(key) for key in changes.keys})
        fresh, _ = self._derived.snapshot()
        self.last_derive_seconds = time.perf_counter() - started
        latest = self._latest
        if latest is not None and fresh.services == latest.services and fresh.pods == latest.pods:
            return  # e.g. a pod's phase changed, not its IP: nothing DNS or the rules hold
        self._take(replace(fresh, version=latest.version + 1 if latest is not None else 1))

    def _take(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        self._update_dns(snapshot)
        self._event.set()

    def _update_dns(self, snapshot: Snapshot) -> None:
        if self.dns is None:
            return
        started = time.perf_counter()
        try:
            self.dns.update(snapshot)
            self.dns_updates += 1
            self.last_dns_seconds = time.perf_counter() - started
        except Exception as err:  # keep answering from the previous index
            self.last_error = f"DNS index of snapshot {snapshot.version}: {err!r}"
            log.exception("building the DNS index failed; the previous one keeps answering")

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
            if not retry and wanted == self._programmed:
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
