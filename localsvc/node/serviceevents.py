"""Events on Services whose NodePort or LoadBalancer ports cannot be published.

The controller reports after each sync what it knows (LoadBalancers waiting for a port, host
ports a forwarder could not publish: node/forwarders.py); a failure is recorded when it appears
or its message changes, and a LoadBalancer that then gets its ports gets EnsuredLoadBalancer,
as the service controller records. Which failures there are is decided in model/events.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from localsvc.model import events as ev
from localsvc.node.events import EventRecorder


class ServiceEvents:
    def __init__(self, recorder: EventRecorder):
        self.recorder = recorder
        self._reported: dict[str, tuple[str, str]] = {}  # Service key -> (reason, message)

    def report(self, lookup: Callable[[str], dict[str, Any] | None],
               lb_pending: Mapping[str, str], publish_errors: Mapping[str, str]) -> None:
        """`lookup` finds a stored Service by "namespace/name", only for the Services that
        fail or failed (each sync reports); the two tables by "namespace/name"."""
        keys = lb_pending.keys() | publish_errors.keys() | self._reported.keys()
        by_key = {key: found for key in keys if (found := lookup(key)) is not None}
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
