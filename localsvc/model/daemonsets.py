"""What the DaemonSet controller does next on the environment's one node. Pure.

Mirrors pkg/controller/daemon (Kubernetes 1.32) for a one-node cluster: the node runs one pod of
the DaemonSet when the template's nodeSelector and required node affinity match the node's
labels (and none otherwise, as on a cluster whose nodes all mismatch); a template change rolls
the pod by `updateStrategy`: RollingUpdate deletes the old pod first (maxUnavailable 1,
maxSurge 0, the default) or, with maxSurge, starts the new one and deletes the old once the new
is available; OnDelete replaces a pod only when the user deleted it. The status counts what
`kubectl get ds` and `kubectl rollout status ds` read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from localsvc.model.labelselector import GREATER, LESS, KUBERNETES_OPERATORS, Requirement
from localsvc.model.statefulsets import REVISION_LABEL as REVISION_LABEL  # the same label

Obj = dict[str, Any]
GENERATION_LABEL = "pod-template-generation"
_NODE_OPERATORS = {**KUBERNETES_OPERATORS, "Gt": GREATER, "Lt": LESS}


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    operator = _NODE_OPERATORS.get(str(expression.get("operator")))
    if operator is None:
        return False
    values = tuple(str(v) for v in expression.get("values") or ())
    if operator in (GREATER, LESS) and len(values) != 1:
        return False
    return Requirement(str(expression.get("key", "")), operator, values).matches(labels)


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    """A nodeSelectorTerm: all its expressions and fields hold; an empty term matches none."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return all(_expression_matches(e, labels) for e in expressions) and all(
        f.get("key") == "metadata.name"
        and _expression_matches(f, {"metadata.name": node_name}) for f in fields)


def schedulable(pod_spec: Mapping[str, Any], node_labels: Mapping[str, str],
                node_name: str) -> bool:
    """Whether a pod of this spec may run on the node: nodeSelector (every label equal) and
    requiredDuringSchedulingIgnoredDuringExecution (any of its terms)."""
    selector = pod_spec.get("nodeSelector") or {}
    if any(node_labels.get(k) != str(v) for k, v in selector.items()):
        return False
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if affinity is None:
        return True
    return any(_term_matches(t, node_labels, node_name)
               for t in affinity.get("nodeSelectorTerms") or [])


@dataclass(frozen=True)
class DaemonPod:
    name: str
    template_hash: str
    ready: bool
    available: bool  # ready for minReadySeconds
    created: float = 0.0


@dataclass
class DaemonStep:
    create: bool = False
    delete: list[str] = field(default_factory=list)


def _surge(spec: Mapping[str, Any]) -> bool:
    """Whether the rolling update starts the new pod before deleting the old (maxSurge > 0;
    on one node a percentage rounds up to one pod)."""
    rolling = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {})
    surge = rolling.get("maxSurge")
    if isinstance(surge, str):
        return surge.rstrip("%") not in ("", "0")
    return bool(surge)


def plan_daemon(spec: Mapping[str, Any], current_hash: str, pods: Sequence[DaemonPod],
                fits: bool) -> DaemonStep:
    """The next step for the one node given the DaemonSet's pods on it."""
    if not fits:
        return DaemonStep(delete=[p.name for p in pods])
    new = sorted((p for p in pods if p.template_hash == current_hash), key=lambda p: p.created)
    old = [p for p in pods if p.template_hash != current_hash]
    on_delete = (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
    if not new and not old:
        return DaemonStep(create=True)
    if len(new) > 1:  # one pod per node: the oldest stays, the others go
        return DaemonStep(delete=[p.name for p in new[1:]])
    if on_delete or not old:
        return DaemonStep()
    if not new:
        if _surge(spec) and any(p.available for p in old):
            return DaemonStep(create=True)
        return DaemonStep(delete=[p.name for p in old])
    if new[0].available or not any(p.available for p in old):
        return DaemonStep(delete=[p.name for p in old])
    return DaemonStep()


def daemon_status(generation: int, fits: bool, current_hash: str,
                  pods: Sequence[DaemonPod]) -> Obj:
    """The DaemonSet's status on a one-node cluster."""
    desired = 1 if fits else 0
    scheduled = 1 if pods and fits else 0
    updated = 1 if fits and any(p.template_hash == current_hash for p in pods) else 0
    available = 1 if fits and any(p.available for p in pods) else 0
    status: Obj = {
        "currentNumberScheduled": scheduled,
        "numberMisscheduled": 1 if pods and not fits else 0,
        "desiredNumberScheduled": desired,
        "numberReady": 1 if fits and any(p.ready for p in pods) else 0,
        "observedGeneration": generation,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
    }
    if desired - available:
        status["numberUnavailable"] = desired - available
    return status


__all__ = ["DaemonPod", "DaemonStep", "GENERATION_LABEL", "REVISION_LABEL", "daemon_status",
           "plan_daemon", "schedulable"]
