"""Events on Services whose NodePort or LoadBalancer ports cannot be published.

The controller reports after each sync what it knows (LoadBalancers waiting for a port, host
ports a forwarder could not publish: node/forwarders.py); a failure is recorded when it appears
or its message changes, and a LoadBalancer that then gets its ports gets EnsuredLoadBalancer,
as the service controller records. Which failures there are is decided in model/events.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from localsvc.model import events as ev
from localsvc.node.events import EventRecorder
from localsvc.node.services import service_key


class ServiceEvents:
    def __init__(self, recorder: EventRecorder):
        self.recorder = recorder
        self._reported: dict[str, tuple[str, str]] = {}  # Service key -> (reason, message)

    def report(self, services: Callable[[], Iterable[dict[str, Any]]],
               lb_pending: Mapping[str, str], publish_errors: Mapping[str, str]) -> None:
        """`services` gives the stored Services, called only when something fails or failed
        (each sync reports; the stored objects are not scanned for nothing); the two tables
        by "namespace/name"."""
        if not (lb_pending or publish_errors or self._reported):
            return  # the usual case: nothing failing, nothing to look at
        by_key = {service_key(s): s for s in services()}
        failures = ev.service_failures(by_key, lb_pending, publish_errors)
        for key, (reason, message) in failures.items():
            if self._reported.get(key) != (reason, message):
                self.recorder.warning(self._ref(key), reason, message, ev.SERVICE_CONTROLLER)
        for key in self._reported.keys() - failures.keys():
            service = by_key.get(key)
            if service is not None and (service.get("spec") or {}).get("type") == "LoadBalancer":
                self.recorder.normal(self._ref(key), "EnsuredLoadBalancer",
                                     "Ensured load balancer", ev.SERVICE_CONTROLLER)
        self._reported = failures

    @staticmethod
    def _ref(key: str) -> ev.ObjectRef:
        namespace, name = key.split("/", 1)
        return ev.ObjectRef("Service", namespace, name)


__all__ = ["ServiceEvents"]
