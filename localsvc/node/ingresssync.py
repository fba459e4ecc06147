"""The ingress controller's loop (a mixin of the Controller): which Ingresses it serves, the
HAProxy files they make, running the controller container in a thread (node/ingressctl.py), the
Ingresses' status and events, and the node's own IngressClass.

The plan is recomputed only when the stored objects or the network snapshot changed; the
container is touched only when the files changed (or periodically, to notice a removed one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from localsvc.model import events as ev
from localsvc.model import ingressclass as ic
from localsvc.model.haproxyconfig import config_files
from localsvc.model.ingressroutes import IngressPlan, Problem, ServiceTarget, plan_ingresses
from localsvc.model.ingressstatus import load_balancer_status
from localsvc.model.snapshot import Snapshot
from localsvc.node import ingressctl
from localsvc.node.context import NodeContext
from localsvc.node.events import EventRecorder
from localsvc.node.ingresscerts import pair_problem, stored_default_certificate
from localsvc.node.objectstore import WatchEvent
from localsvc.node.store import State, key_of
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.ingress")
Obj = dict[str, Any]
INGRESS_CONTROLLER = "localsvc-ingress-controller"  # the events' reporting component


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


class IngressSync:
    """Attributes are the Controller's (the _ingress_* ones are this mixin's own)."""

    ctx: NodeContext
    state: State
    snapshot: Snapshot
    generation: int
    started: str
    recorder: EventRecorder
    publisher: Any
    mark_dirty: Callable[[], None]
    _ingress_inputs: tuple[int, int] | None = None
    _ingress_files: dict[str, bytes] | None = None
    _ingress_digest: str = ""  # of _ingress_files ("" none), computed when they are
    _ingress_applied: str | None = None  # digest of the files the container has ("" none)
    _ingress_task: asyncio.Task[Any] | None = None
    _ingress_published: ingressctl.Published | None = None
    _ingress_error: str = ""
    _ingress_served: frozenset[str] = frozenset()  # "namespace/name" of the Ingresses served
    _ingress_reported: frozenset[Problem] = frozenset()
    _ingress_default_pem: bytes | None = None

    def _served_ingresses(self) -> list[Obj]:
        classes = ic.ingress_classes(self.state.objects_of("IngressClass"), self.started)
        ours, classless = ic.our_classes(classes)
        return [o for o in self.state.objects_of("Ingress") if ic.serves(o, ours, classless)]

    def _ingress_plan(self, served: list[Obj]) -> IngressPlan:
        services = {(s.namespace, s.name): ServiceTarget(
            s.cluster_ip, {p.name: p.port for p in s.ports if p.name and p.protocol == "TCP"},
            frozenset(p.port for p in s.ports if p.protocol == "TCP"))
            for s in self.snapshot.services}
        secrets = {(o["metadata"].get("namespace") or "default", o["metadata"]["name"]): o
                   for o in self.state.objects_of("Secret")}
        return plan_ingresses(served, services, secrets, pair_problem)

    def _reconcile_ingress(self, force: bool = False) -> None:
        """Recompute the controller's files when an input changed; start a container pass when
        they differ from what it has (or when forced). One pass at a time, in a thread."""
        if self._ingress_task is not None and not self._ingress_task.done():
            return
        inputs = (self.generation, self.snapshot.version)
        if inputs != self._ingress_inputs:
            self._ingress_inputs = inputs
            served = self._served_ingresses()
            keys = frozenset(_key(o) for o in served)
            if keys != self._ingress_served:
                self._ingress_served = keys
                self.mark_dirty()  # their status (set, or left alone) is published next
            if served:
                plan = self._ingress_plan(served)
                self._report_ingress_problems(plan.problems)
                if self._ingress_default_pem is None:
                    self._ingress_default_pem = stored_default_certificate(
                        self.ctx.config.state_dir)
                self._ingress_files = config_files(plan, self._ingress_default_pem)
                self._ingress_digest = ingressctl.digest(self._ingress_files)
            else:
                self._report_ingress_problems(())
                self._ingress_files, self._ingress_digest = None, ""
        files, wanted = self._ingress_files, self._ingress_digest
        if wanted == self._ingress_applied and not force:
            return
        self._ingress_applied = wanted
        self._ingress_task = spawn(self._run_ingress_reconcile(files), name="ingress reconcile")

    async def _run_ingress_reconcile(self, files: dict[str, bytes] | None) -> None:
        cfg = self.ctx.config
        try:
            outcome = await asyncio.to_thread(
                ingressctl.reconcile, self.ctx.docker, cfg.env, cfg.network, cfg.image,
                cfg.host_address, cfg.ingress_ports, files)
        except Exception as err:  # the engine said no: retried on the next pass
            log.warning("ingress controller: %s", err)
            outcome = ingressctl.Outcome(None, f"the ingress controller cannot run: {err}")
            self._ingress_applied = None
        if outcome.error:
            log.warning("ingress controller: %s", outcome.error)
        changed = (outcome.published, outcome.error) != (self._ingress_published,
                                                         self._ingress_error)
        self._ingress_published, self._ingress_error = outcome.published, outcome.error
        if changed or (self.generation, self.snapshot.version) != self._ingress_inputs:
            self.mark_dirty()  # the status follows; a change made meanwhile is taken now

    def _report_ingress_problems(self, problems: tuple[Problem, ...]) -> None:
        """A Warning event on the Ingress when a problem appears or its message changes."""
        now = frozenset(problems)
        for problem in problems:
            if problem in self._ingress_reported:
                continue
            namespace, name = problem.ingress.split("/", 1)
            self.recorder.warning(ev.ObjectRef("Ingress", namespace, name,
                                               api_version="networking.k8s.io/v1"),
                                  problem.reason, problem.message, INGRESS_CONTROLLER)
        self._ingress_reported = now

    def ingress_status(self, obj: Obj) -> Obj | None:
        """The status of a stored Ingress: the controller's address when it serves it; None
        for an Ingress it leaves alone (its status stays as it is)."""
        if _key(obj) not in self._ingress_served:
            return None
        published = self._ingress_published
        if published is None:
            return {"loadBalancer": {}}
        return load_balancer_status(self.ctx.config.host_address, published.http,
                                    published.https)

    def ingress_summary(self) -> Obj:
        """For `localsvc status` and `url`: where the controller listens, and why not on the
        configured ports."""
        published = self._ingress_published
        wanted = self.ctx.config.ingress_ports
        return {"wantedPorts": list(wanted), "ports": [published.http, published.https]
                if published else None, "note": published.note if published else "",
                "error": self._ingress_error, "served": len(self._ingress_served)}

    def _publish_ingress_class(self) -> list[WatchEvent]:
        """The node's default IngressClass, unless one of its name is applied."""
        applied = any(o["metadata"].get("name") == ic.DEFAULT_CLASS
                      for o in self.state.objects_of("IngressClass"))
        entries = {} if applied else {key_of("IngressClass", "", ic.DEFAULT_CLASS): (
            self.started, partial(ic.default_ingress_class, self.started))}
        events: list[WatchEvent] = self.publisher.publish("IngressClass", entries)
        return events
