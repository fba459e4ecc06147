"""The node's volume controller: every PersistentVolumeClaim bound to a Docker named volume.

It plays the PV controller, the dynamic provisioner and the pvc-protection controller of a
cluster (the rules are model/claims.py):
- a claim of a known class gets its Docker volume (runtime/claims.py ensure_claim_volume, named
  by environment/namespace/claim, so a volume `down` kept is found again), a PersistentVolume
  `pvc-<uid>` and status Bound; one that cannot be bound stays Pending, with an Event saying why;
- a pod mounts only the volume a binding recorded (claim_volume): its pods wait, in the
  scheduler's words, while the claim is missing, Pending or being deleted; only this binder
  makes claim volumes, so one made for a claim is reclaimed with it;
- the table of bindings (claim key -> uid, volume, mountpoint, when) is in the State, saved with
  it: a restarted node serves the same binding and only makes sure the volume is there;
- a claim deleted (kubectl delete, localsvc delete, its namespace deleted) that a pod still
  uses is served Terminating until no pod does; then (reclaim policy Delete) its Docker volume
  is removed, and its binding forgotten once that succeeded;
- a claim only left out of the manifests of the next `up` (pruned) keeps its data, as compose
  keeps a volume a changed compose file no longer names: `down` lists it, `down --volumes`
  removes it, and the claim applied again later finds it.
A claim re-created under the name of one whose volume is being removed waits for the removal:
it gets a new, empty volume, as a new claim does in a cluster.

A mixin of the Controller; its Docker calls run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import docker
import docker.errors

from localsvc.model import claims as cl
from localsvc.model import events as ev
from localsvc.model.clock import docker_time
from localsvc.model.podvolumes import ConfigError
from localsvc.model.objects import now_iso
from localsvc.node.changes import ObjectChanges
from localsvc.node.context import NodeContext
from localsvc.node.events import EventRecorder
from localsvc.node.objectstore import ObjectStore, WatchEvent
from localsvc.node.podworker import PodWorker
from localsvc.node.publish import ObjectPublisher
from localsvc.node.store import State, key_of
from localsvc.runtime.claims import ensure_claim_volume
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.claims")
Obj = dict[str, Any]
TABLE = "claims"  # state.allocations[TABLE]: claim key -> {"uid", "volume", "mountpoint", "since"}
CLASSES = frozenset({cl.DEFAULT_CLASS})


def _same(obj: Obj) -> Obj:
    return obj


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def _unserved(key: str, entry: Obj) -> Obj:
    """A deleted claim not served any more (a node restarted since), from its binding."""
    _, namespace, name = key.split("/", 2)
    return {"apiVersion": "v1", "kind": cl.KIND, "metadata": {
        "name": name, "namespace": namespace, "uid": entry.get("uid", "")}, "spec": {}}


def _ensure(client: docker.DockerClient, env: str, namespace: str, name: str,
            claim_created: str) -> tuple[str, str, bool]:
    """The claim's volume (made when missing): its name, Mountpoint, and whether it is older
    than the claim, so holds data from before (`down` kept it); made for this claim it is not."""
    volume = ensure_claim_volume(client, env, namespace, name)
    attrs = volume.attrs
    made, claimed = docker_time(attrs.get("CreatedAt")), docker_time(claim_created)
    # (creationTimestamp has whole seconds: a volume made in the claim's second is its own)
    older = made is not None and claimed is not None and made < claimed
    return str(volume.name), str(attrs.get("Mountpoint") or ""), older


def _remove(client: docker.DockerClient, volume: str) -> None:
    try:
        client.volumes.get(volume).remove()
    except docker.errors.NotFound:
        pass


class ClaimBinding(ObjectChanges):
    """ObjectChanges whose deletes mark claims for reclaim. Attributes other than the claim_*
    ones are the Controller's."""

    ctx: NodeContext
    state: State
    objects: ObjectStore
    publisher: ObjectPublisher
    recorder: EventRecorder
    terminating: dict[str, PodWorker]
    workers: dict[str, PodWorker]
    started: str

    def mark_dirty(self) -> None:
        raise NotImplementedError  # the Controller's

    def init_claim_tables(self) -> None:
        self.claim_jobs: set[str] = set()  # claim keys with a Docker call in flight
        self.claim_ensured: set[str] = set()  # uids whose volume this process made sure of
        self.claim_reported: dict[str, tuple[str, str]] = {}  # uid -> the last Pending Event
        self.claim_terminating: dict[str, Obj] = {}  # deleted, a pod still uses it: served
        self.claim_table_changed = False

    @property
    def claim_table(self) -> dict[str, Obj]:
        table: dict[str, Obj] = self.state.allocations.setdefault(TABLE, {})
        return table

    def claim_bound(self, key: str, claim: Obj) -> cl.Bound | None:
        entry = self.claim_table.get(key)
        if entry is None or entry.get("uid") != _uid(claim):
            return None
        return cl.Bound(str(entry["volume"]), str(entry.get("mountpoint", "")),
                        str(entry.get("since", "")))

    def claim_waiting(self, namespace: str, name: str) -> str | None:
        """Why a pod using claim `namespace/name` must wait, in the scheduler's words (None:
        the claim is bound and its Docker volume exists), for the pod side's use."""
        key = key_of(cl.KIND, namespace, name)
        claim = self.state.objects.get(key)
        if key in self.claim_terminating:
            return f'persistentvolumeclaim "{name}" is being deleted'
        if claim is None:
            return f'persistentvolumeclaim "{name}" not found'
        if self.claim_bound(key, claim) is None:
            return "pod has unbound immediate PersistentVolumeClaims"
        return None

    def claim_volume(self, namespace: str, name: str) -> str:
        """The Docker volume a pod mounts for claim `namespace/name`: the one its binding made
        (a pod never makes one); ConfigError with claim_waiting's reason while it must wait."""
        why = self.claim_waiting(namespace, name)
        key = key_of(cl.KIND, namespace, name)
        bound = None if why else self.claim_bound(key, self.state.objects[key])
        if bound is None:
            raise ConfigError(why or "pod has unbound immediate PersistentVolumeClaims")
        return bound.volume

    def delete(self, keys: Sequence[str], grace: int | None = None,
               orphan: bool = False) -> list[Obj]:
        """Delete objects; the bound claims among them, or in a namespace among them, have
        their data deleted once they are gone (saved with the delete: a restart still does)."""
        namespaces = {key.split("/", 2)[2] for key in keys if key.startswith("Namespace//")}
        for key, entry in list(self.claim_table.items()):
            if key in keys or key.split("/", 2)[1] in namespaces:
                self.claim_table[key] = {**entry, "reclaim": True}
        return super().delete(keys, grace, orphan)

    def reclaim_claim(self, key: str) -> None:
        """A claim a controller deletes (a StatefulSet's retention policy says Delete): its data
        goes once no pod uses it, as with a delete through the API (a prune keeps it)."""
        entry = self.claim_table.get(key)
        if entry is not None and not entry.get("reclaim"):
            self.claim_table[key] = {**entry, "reclaim": True}
            self.claim_table_changed = True

    # ---- the sync step ------------------------------------------------------------------------

    def _sync_claims(self) -> bool:
        """Bind, protect and reclaim; whether the saved bindings changed (to be saved)."""
        claims = dict(self.state.objects_by_kind(cl.KIND))  # (binding may store objects)
        if not claims and not self.claim_table and not self.claim_terminating:
            # Nothing to bind, protect or reclaim: skip the scan of every pod's volumes.
            changed, self.claim_table_changed = self.claim_table_changed, False
            return changed
        used: set[tuple[str, str]] | None = None  # (every pod's volumes: only when needed)
        for key, entry in list(self.claim_table.items()):
            claim = claims.get(key)
            if claim is not None and _uid(claim) == entry.get("uid"):
                continue
            if not entry.get("reclaim"):  # pruned, not deleted: the data stays for later
                del self.claim_table[key]
                self.claim_table_changed = True
                continue
            if claim is None:
                used = self._claims_in_use() if used is None else used
                if tuple(key.split("/")[1:]) in used:
                    if key not in self.claim_terminating:  # as last served, marked deleted
                        served = self.objects.get(key) or _unserved(key, entry)
                        self.claim_terminating[key] = cl.terminating_claim(served, now_iso())
                    continue
            self.claim_terminating.pop(key, None)
            self._start(key, "reclaim", partial(_remove, self.ctx.docker, str(entry["volume"])),
                        partial(self._reclaimed, key, str(entry.get("uid"))))
        for key in [k for k in self.claim_terminating if k not in self.claim_table]:
            del self.claim_terminating[key]
        for key, claim in claims.items():
            self._bind(key, claim)
        changed, self.claim_table_changed = self.claim_table_changed, False
        return changed

    def _claims_in_use(self) -> set[tuple[str, str]]:
        """(namespace, claim) of every claim a pod uses, running or still stopping."""
        pods = [r.obj for r in self.state.pods.values()]
        pods += [w.record.obj for w in self.terminating.values() if not w.done.is_set()]
        return {(str(p["metadata"].get("namespace", "default")), name)
                for p in pods for name in cl.claims_used_by(p)}

    def _bind(self, key: str, claim: Obj) -> None:
        uid = _uid(claim)
        problem = cl.binding_problem(claim, CLASSES)
        if problem is not None:
            self._report(claim, problem.reason, problem.message, problem.warning)
            return
        entry = self.claim_table.get(key)
        if entry is not None and entry.get("uid") != uid:
            return  # the volume of a deleted claim of that name is being removed first
        if entry is not None and uid in self.claim_ensured:
            return
        meta = claim["metadata"]
        self._start(key, "bind", partial(_ensure, self.ctx.docker, self.ctx.config.env,
                                         str(meta.get("namespace", "default")), meta["name"],
                                         str(meta.get("creationTimestamp", ""))),
                    partial(self._provisioned, key, claim))

    def _start(self, key: str, what: str, work: Any, done: Any) -> None:
        """Run `work` in a thread (one Docker job per claim at a time), then `done(result)` on
        the loop; a failure is logged and retried by a later sync."""
        if key in self.claim_jobs:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # (no loop: a sync outside the node's loop; the loop's next sync does it)
        self.claim_jobs.add(key)

        async def job() -> None:
            try:
                result = await asyncio.to_thread(work)
            except docker.errors.DockerException as err:
                log.warning("%s %s failed (retried): %s", what, key, err)
                if what == "bind":
                    self._report(self.state.objects.get(key) or {}, "ProvisioningFailed",
                                 f"creating the Docker volume failed: {err}", True)
            else:
                done(result)
                self.mark_dirty()
            finally:
                self.claim_jobs.discard(key)

        spawn(job(), name=f"claim {what} {key}")

    def _provisioned(self, key: str, claim: Obj, made: tuple[str, str, bool]) -> None:
        volume, mountpoint, existed = made
        uid = _uid(claim)
        if _uid(self.state.objects.get(key) or {}) != uid:
            return  # deleted or replaced meanwhile: the next sync decides again
        self.claim_ensured.add(uid)
        entry = self.claim_table.get(key)
        if entry is not None and entry.get("uid") == uid and entry.get("mountpoint") == mountpoint:
            return  # (a restarted node made sure of a binding it had)
        self.claim_table[key] = {"uid": uid, "volume": volume, "mountpoint": mountpoint,
                                 "since": (entry or {}).get("since") or now_iso()}
        self.claim_table_changed = True
        _, namespace, name = key.split("/", 2)
        for worker in self.workers.values():  # its pods waiting for the binding start now
            if worker.record.namespace == namespace and name in cl.claims_used_by(
                    worker.record.obj):
                worker.wake()
        message = (f"Successfully provisioned volume {cl.pv_name(uid)} using {cl.PROVISIONER}"
                   + (f" (the existing Docker volume {volume}, with the data it holds)"
                      if existed else f" (Docker volume {volume})"))
        self.recorder.normal(ev.reference_to(claim), "ProvisioningSucceeded", message, cl.CONTROLLER)

    def _reclaimed(self, key: str, uid: str, _: Any) -> None:
        entry = self.claim_table.get(key)
        if entry is not None and entry.get("uid") == uid:
            del self.claim_table[key]
            self.claim_table_changed = True
            log.info("%s deleted: its Docker volume %s is removed", key, entry.get("volume"))

    def _report(self, claim: Obj, reason: str, message: str, warning: bool) -> None:
        uid = _uid(claim)
        if not claim or self.claim_reported.get(uid) == (reason, message):
            return
        self.claim_reported[uid] = (reason, message)
        self.recorder.record(ev.reference_to(claim), ev.WARNING if warning else ev.NORMAL, reason,
                             message, cl.CONTROLLER)

    # ---- publishing ---------------------------------------------------------------------------

    def _publish_storage(self) -> list[WatchEvent]:
        """The claims as served (bound or Pending, or Terminating), their PersistentVolumes and
        the default StorageClass."""
        claims: dict[str, Any] = {}
        volumes: dict[str, Any] = {}
        for key, claim in self.state.objects_by_kind(cl.KIND).items():
            bound = self.claim_bound(key, claim)
            claims[key] = ((claim, bound), partial(cl.claim_view, claim, bound))
            if bound is not None:
                volumes[key_of("PersistentVolume", "", cl.pv_name(_uid(claim)))] = (
                    (claim, bound), partial(cl.persistent_volume, claim, bound))
        for key, served in self.claim_terminating.items():
            claims[key] = (served, partial(_same, served))
            bound = self.claim_bound(key, served)
            if bound is not None:  # its volume stays until the claim is gone
                volumes[key_of("PersistentVolume", "", cl.pv_name(_uid(served)))] = (
                    (served, bound), partial(cl.persistent_volume, served, bound))
        events = self.publisher.publish(cl.KIND, claims)
        events += self.publisher.publish("PersistentVolume", volumes)
        return events + self.publisher.publish("StorageClass", {
            key_of("StorageClass", "", cl.DEFAULT_CLASS): (
                self.started, partial(cl.storage_class, self.started))})


__all__ = ["ClaimBinding", "TABLE"]
