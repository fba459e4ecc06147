"""The Docker volumes that hold PersistentVolumeClaims' data.

A claim's volume is named by the claim (environment, namespace, claim name), not by its uid: after
`localsvc down` kept it, the next `up` of the same environment makes a new claim object with a new
uid, and it must find the same data, as a compose project's named volume does.
"""

from __future__ import annotations

from dataclasses import dataclass

import docker
import docker.errors

from localsvc.runtime import labels as L


def claim_volume_name(env: str, namespace: str, claim: str) -> str:
    """The Docker volume of claim `namespace/claim` in `env`: `localsvc-ENV-pvc-NS.CLAIM`. A
    namespace name has no dot (a DNS label), so no two claims share a name (with "-" between
    them, `a-b/c` and `a/b-c` would)."""
    return L.resource_name(env, "pvc", f"{namespace}.{claim}")


def claim_labels(env: str, namespace: str, claim: str) -> dict[str, str]:
    return L.base(env, L.ROLE_CLAIM_VOLUME, **{L.NAMESPACE: namespace, L.CLAIM: claim})


def is_claim_volume(labels: dict[str, str] | None) -> bool:
    """Whether a Docker volume with these labels holds a claim's data (kept by `down`)."""
    return (labels or {}).get(L.ROLE) == L.ROLE_CLAIM_VOLUME


def ensure_claim_volume(client: docker.DockerClient, env: str, namespace: str,
                        claim: str) -> docker.models.volumes.Volume:
    """The claim's volume, created (labelled with the environment) when missing."""
    name = claim_volume_name(env, namespace, claim)
    try:
        return client.volumes.get(name)
    except docker.errors.NotFound:
        return client.volumes.create(name=name, labels=claim_labels(env, namespace, claim))


def claim_volumes(client: docker.DockerClient, env: str) -> list[docker.models.volumes.Volume]:
    """Every claim volume of `env` (what `down` keeps and `down --volumes` removes)."""
    return list(client.volumes.list(
        filters={"label": [f"{L.ENV}={env}", f"{L.ROLE}={L.ROLE_CLAIM_VOLUME}"]}))


@dataclass(frozen=True)
class Removed:
    """What runtime/environment.destroy removed, and the claims' volumes it kept (without
    `volumes`), which `down` names."""

    counts: dict[str, int]  # {"containers": N, "networks": N, "volumes": N}
    kept: list[str]  # the kept volumes' names, sorted


__all__ = ["Removed", "claim_labels", "claim_volume_name", "claim_volumes", "ensure_claim_volume",
           "is_claim_volume"]
