"""What the connect subresources (log, exec, attach, portforward, proxy) share: the pod a request
names (their long-lived streams are tracked by node/longstreams.py)."""

from __future__ import annotations

from typing import Any

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import Target
from localsvc.node.controller import Controller

PODS = st.GroupResource("pods")


def pod_of(controller: Controller, target: Target) -> dict[str, Any]:
    """The pod the path names, as the API serves it; 404 NotFound when there is none."""
    name = target.name or ""
    pod = controller.objects.get(f"Pod/{target.namespace or 'default'}/{name}")
    if pod is None:
        raise ApiError(st.not_found(PODS, name))
    return pod


__all__ = ["PODS", "pod_of"]
