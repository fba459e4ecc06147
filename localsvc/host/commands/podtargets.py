"""Which pod a pod command (logs, exec, port-forward) means: `POD`, `pod/NAME`,
`deploy/NAME` or `svc/NAME` (one of the pods it selects, as kubectl picks one), or a label
selector (every matching pod)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from localsvc.host.commands.resources import resolve_kind
from localsvc.errors import LocalsvcError, NotFound
from localsvc.model.labelselector import LabelSelector, from_kubernetes

Obj = dict[str, Any]
POD_OWNERS = ("Deployment", "Service", "StatefulSet", "Job", "DaemonSet")


def split_target(text: str) -> tuple[str, str]:
    """`web-1` and `pod/web-1` -> ("Pod", "web-1"); `deploy/web` -> ("Deployment", "web")."""
    kind_text, slash, name = text.rpartition("/")
    if not slash:
        return "Pod", text
    kind = resolve_kind(kind_text)
    if kind != "Pod" and kind not in POD_OWNERS:
        raise LocalsvcError(f"{text}: pod commands take POD, pod/NAME, deployment/NAME, "
                            "statefulset/NAME, service/NAME, job/NAME or daemonset/NAME")
    if not name:
        raise LocalsvcError(f"{text}: the name after the '/' is missing")
    return kind, name


def owner_selector(kind: str, owner: Obj) -> LabelSelector | None:
    """The pods a Deployment, StatefulSet, Job, DaemonSet or Service selects; None for a Service without a
    selector."""
    selector = owner["spec"].get("selector") or {}
    if kind == "Service":
        return from_kubernetes({"matchLabels": selector}) if selector else None
    return from_kubernetes(selector)


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pick_pod(pods: Sequence[Obj]) -> Obj | None:
    """The pod kubectl would choose among a controller's pods: not terminating, ready before not
    ready, running before pending, then the oldest, then by name (stable)."""
    alive = [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def rank(pod: Obj) -> tuple[bool, bool, str, str]:
        running = (pod.get("status") or {}).get("phase") == "Running"
        return (not _ready(pod), not running, pod["metadata"].get("creationTimestamp") or "",
                pod["metadata"]["name"])

    return min(alive, key=rank, default=None)


def selected_pods(env: Any, selector: LabelSelector, namespace: str | None) -> list[Obj]:
    pods: list[Obj] = env.get("pods", None, namespace)
    return [p for p in pods if selector.matches(p["metadata"].get("labels"))]


def resolve_pod(env: Any, target: str, namespace: str) -> str:
    """The name of the pod `target` means in `namespace`."""
    kind, name = split_target(target)
    if kind == "Pod":
        return name
    owner = env.get(kind, name, namespace)[0]
    selector = owner_selector(kind, owner)
    pod = pick_pod(selected_pods(env, selector, namespace)) if selector is not None else None
    if pod is None:
        raise NotFound(f"{kind.lower()}/{name} has no pods")
    return str(pod["metadata"]["name"])
