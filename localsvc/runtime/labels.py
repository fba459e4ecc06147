"""Docker labels that localsvc puts on everything it creates.

Labels are how `down`, crash recovery and a restarted node find every object of an environment:
nothing is tracked anywhere else. No Docker calls here.
"""

from __future__ import annotations

PREFIX = "io.localsvc"
ENV = f"{PREFIX}.env"
ROLE = f"{PREFIX}.role"  # node | pod-infra | pod-container | pod-volume | claim-volume | state-volume | network
NAMESPACE = f"{PREFIX}.namespace"
NAME = f"{PREFIX}.name"  # the Kubernetes object's name (pod name for pod containers)
KIND = f"{PREFIX}.kind"
POD_UID = f"{PREFIX}.pod-uid"
CONTAINER = f"{PREFIX}.container"  # the container's name in the pod spec
INIT = f"{PREFIX}.init"  # "true" for init containers
ATTEMPT = f"{PREFIX}.attempt"  # 0 for the first run, +1 per restart (= restart count)
SUBNET = f"{PREFIX}.subnet"
CLAIM = f"{PREFIX}.claim"  # the PersistentVolumeClaim a claim volume holds the data of
KEEP = f"{PREFIX}.keep"  # "true": long-lived environment (`up -d`)

ROLE_NODE = "node"
ROLE_POD_INFRA = "pod-infra"
ROLE_POD_CONTAINER = "pod-container"
ROLE_POD_VOLUME = "pod-volume"
ROLE_STATE_VOLUME = "state-volume"
# A PersistentVolumeClaim's data (runtime/claims.py): outlives its pods, kept by `down`.
ROLE_CLAIM_VOLUME = "claim-volume"
ROLE_NETWORK = "network"
# A short-lived container that creates a hostPath FileOrCreate file (runtime/hostpaths.py).
ROLE_POD_HELPER = "pod-helper"


def env_filter(env: str) -> dict[str, list[str]]:
    """A Docker `filters` argument selecting every object of one environment."""
    return {"label": [f"{ENV}={env}"]}


def base(env: str, role: str, **extra: str) -> dict[str, str]:
    labels = {ENV: env, ROLE: role}
    labels.update(extra)
    return labels


def resource_name(env: str, *parts: str) -> str:
    """Docker object names: `localsvc-<env>-<part>-...` (Docker allows [a-zA-Z0-9_.-])."""
    return "-".join(["localsvc", env, *parts])
