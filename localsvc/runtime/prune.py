"""`localsvc prune`: remove the left-overs of crashed environments, and only those.

An environment is a left-over when its node is gone (missing, exited, dead, never started) and
nothing of it has moved for a while: a network without a node may be an environment that
`localsvc up` is creating at this very moment (the node comes a second later), and a node that
exited seconds ago may be restarting under its restart policy. So an environment is pruned only
when its node is not active and the newest sign of life — the node's finish time or the creation
of any of its objects — is older than PRUNE_AGE. The volumes of PersistentVolumeClaims are data
`down` kept on purpose, not left-overs: prune keeps them, and they alone make no environment.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from localsvc.errors import LocalsvcError
from localsvc.model.clock import docker_time as docker_time  # re-exported for its callers
from localsvc.runtime import environment as envrt
from localsvc.runtime import labels as L
from localsvc.runtime.claims import is_claim_volume

PRUNE_AGE = 60.0  # seconds the node must have been gone
ACTIVE = ("running", "restarting", "paused", "removing")


@dataclass(frozen=True)
class EnvState:
    """What prune needs to know of one environment, read from Docker."""

    name: str
    node_status: str  # a Docker container state, or "missing"
    last_sign_of_life: float  # epoch seconds: node finish or newest object creation


@dataclass(frozen=True)
class Pruned:
    name: str
    node_status: str
    removed: dict[str, int]
    error: str | None = None  # why it could not be removed (the others are pruned anyway)

    def message(self) -> str:
        if self.error is not None:
            return f"environment {self.name} (node {self.node_status}) not removed: {self.error}"
        return (f"environment {self.name} (node {self.node_status}) removed: "
                f"{self.removed['containers']} containers, {self.removed['networks']} networks, "
                f"{self.removed['volumes']} volumes")


def is_orphan(state: EnvState, now: float, min_age: float = PRUNE_AGE) -> bool:
    return state.node_status not in ACTIVE and now - state.last_sign_of_life >= min_age


def env_states(client: docker.DockerClient) -> list[EnvState]:
    """Every labelled environment on the engine, from three list calls plus one inspect per
    node that is not running (for its finish time)."""
    api = client.api
    label = {"label": [L.ENV]}
    newest: dict[str, float] = {}
    status: dict[str, str] = {}

    def seen(env: str | None, created: Any) -> None:
        if env:
            newest[env] = max(newest.get(env, 0.0), docker_time(created) or 0.0)

    for c in api.containers(all=True, filters=label):
        env = (c.get("Labels") or {}).get(L.ENV)
        seen(env, c.get("Created"))
        if env and (c.get("Labels") or {}).get(L.ROLE) == L.ROLE_NODE:
            status[env] = str(c.get("State") or "unknown")
            if status[env] not in ACTIVE:
                seen(env, _finished_at(client, c["Id"]))
    for n in api.networks(filters=label):
        seen((n.get("Labels") or {}).get(L.ENV), n.get("Created"))
    for v in api.volumes(filters=label).get("Volumes") or []:
        if not is_claim_volume(v.get("Labels")):  # data `down` kept
            seen((v.get("Labels") or {}).get(L.ENV), v.get("CreatedAt"))
    return [EnvState(env, status.get(env, "missing"), newest[env]) for env in sorted(newest)]


def _finished_at(client: docker.DockerClient, container_id: str) -> Any:
    try:
        return client.api.inspect_container(container_id)["State"].get("FinishedAt")
    except docker.errors.NotFound:
        return None


def prune_orphans(client: docker.DockerClient, min_age: float = PRUNE_AGE,
                  now: float | None = None, names: Collection[str] | None = None) -> list[Pruned]:
    """Remove every environment (of `names`, when given) whose node has been gone for
    `min_age` seconds."""
    moment = time.time() if now is None else now
    pruned = []
    for state in env_states(client):
        if (names is None or state.name in names) and is_orphan(state, moment, min_age):
            try:
                removed = envrt.destroy(client, state.name)
            except (LocalsvcError, docker.errors.APIError) as err:
                pruned.append(Pruned(state.name, state.node_status, {}, str(err)))
            else:
                pruned.append(Pruned(state.name, state.node_status, removed.counts))
    return pruned
