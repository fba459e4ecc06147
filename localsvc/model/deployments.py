"""What a Deployment controller does next, as a pure function of the pods it owns.

Mirrors the Kubernetes Deployment controller closely enough for a dev environment: pods named
`<deployment>-<template hash>-<5 random>`, scale to `replicas`, and on a template change a rolling
update bounded by maxSurge (rounded up) and maxUnavailable (rounded down), or Recreate.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Kubernetes' "safe" alphabet for generated names: no vowels, no look-alike digits.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _without_zero_values(value: Any) -> Any:
    """`value` without null, {} and [] fields, at any depth: what Kubernetes' Go types cannot
    tell from absent. A template that went through kubectl (rollout undo writes the
    ReplicaSet's template back) carries `creationTimestamp: null` and `resources: {}`."""
    if isinstance(value, dict):
        out = {k: _without_zero_values(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_without_zero_values(v) for v in value]
    return value


def template_hash(template: dict[str, Any]) -> str:
    """A stable 10-character hash of a pod template (the `pod-template-hash` label); a template
    and the same one with null or empty fields have the same hash."""
    canonical = json.dumps(_without_zero_values(template), sort_keys=True,
                           separators=(",", ":")).encode()
    number = int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[index])
    return "".join(chars)


def random_suffix(rng: random.Random | None = None, length: int = 5) -> str:
    rng = rng or random.SystemRandom()
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))


def pod_name(deployment: str, hash_: str, suffix: str) -> str:
    return f"{deployment}-{hash_}-{suffix}"


@dataclass(frozen=True)
class OwnedPod:
    name: str
    template_hash: str
    ready: bool
    created: float


@dataclass(frozen=True)
class RolloutStep:
    create: int = 0
    delete: list[str] = field(default_factory=list)


def _resolve(value: Any, replicas: int, round_up: bool, default: str) -> int:
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        fraction = replicas * int(value[:-1]) / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


def _doomed_first(pods: Sequence[OwnedPod]) -> list[OwnedPod]:
    """Which pods to remove first: not ready before ready, newest before oldest (as Kubernetes)."""
    return sorted(pods, key=lambda p: (p.ready, -p.created))


def plan_rollout(spec: dict[str, Any], current_hash: str, pods: Sequence[OwnedPod]) -> RolloutStep:
    """The next step towards `spec` given the pods the Deployment owns now."""
    replicas = int(spec.get("replicas", 1))
    new = [p for p in pods if p.template_hash == current_hash]
    old = [p for p in pods if p.template_hash != current_hash]

    if not old:
        if len(new) < replicas:
            return RolloutStep(create=replicas - len(new))
        if len(new) > replicas:
            return RolloutStep(delete=[p.name for p in _doomed_first(new)[: len(new) - replicas]])
        return RolloutStep()

    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        # All old pods go first; new ones come once none is left.
        return RolloutStep(delete=[p.name for p in old])

    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge"), replicas, True, "25%")
    unavailable = _resolve(rolling.get("maxUnavailable"), replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1

    extra_new = [p.name for p in _doomed_first(new)[: max(0, len(new) - replicas)]]
    create = max(0, min(replicas - len(new), replicas + surge - len(pods)))
    # Old pods that are not ready serve nobody: removing them costs no availability.
    delete = [p.name for p in old if not p.ready]
    ready = sum(1 for p in pods if p.ready)
    removable = ready - (replicas - unavailable)
    for pod in sorted((p for p in old if p.ready), key=lambda p: -p.created):
        if removable <= 0:
            break
        delete.append(pod.name)
        removable -= 1
    return RolloutStep(create=create, delete=delete + extra_new)
