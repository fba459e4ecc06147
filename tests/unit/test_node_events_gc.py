"""The Docker-events and garbage-collection decisions of the node (pure parts)."""

from __future__ import annotations

import pytest

from localsvc.node.dockerevents import pod_uid_to_wake
from localsvc.node.garbage import leftover_uids
from localsvc.runtime import labels as L


def _event(status: str, attrs: dict[str, str] | None) -> dict[str, object]:
    return {"status": status, "Actor": {"Attributes": attrs}}


@pytest.mark.parametrize("status", ["die", "start", "destroy", "oom", "stop"])
def test_container_events_that_change_a_pod_wake_its_worker(status: str) -> None:
    assert pod_uid_to_wake(_event(status, {L.POD_UID: "u1"})) == "u1"


@pytest.mark.parametrize("event", [
    _event("create", {L.POD_UID: "u1"}),  # the worker made it: nothing new to see
    _event("exec_start", {L.POD_UID: "u1"}),
    _event("die", {"other": "x"}),  # not a pod's container (e.g. an svclb forwarder)
    _event("die", None),
    {"status": "die"},
])
def test_other_events_wake_nobody(event: dict[str, object]) -> None:
    assert pod_uid_to_wake(event) is None


def test_leftovers_are_uids_with_containers_or_volumes_but_no_known_pod() -> None:
    known = {"live", "stopping"}
    assert leftover_uids(known, ["live", "gone", ""], ["stopping", "volume-only", ""]) == {
        "gone", "volume-only"}
    assert leftover_uids(known, ["live"], ["stopping"]) == set()



class _Volumes:
    """Docker's volume collection as the collector uses it: `list`, honouring a uid label filter."""

    def __init__(self, uids: list[str], removed: list[str]) -> None:
        self.uids, self.removed = uids, removed

    def list(self, filters: dict[str, list[str]]) -> list[object]:
        wanted = {f.split("=", 1)[1] for f in filters["label"] if f.startswith(f"{L.POD_UID}=")}
        return [_Volume(uid, self.removed) for uid in self.uids
                if uid not in self.removed and (not wanted or uid in wanted)]


class _Volume:
    def __init__(self, uid: str, removed: list[str]) -> None:
        self.attrs = {"Labels": {L.POD_UID: uid}}
        self.uid, self.removed = uid, removed

    def remove(self, force: bool = False) -> None:
        self.removed.append(self.uid)


def test_a_pod_created_while_docker_is_listed_is_not_garbage() -> None:
    """Regression: the known pods were taken before Docker's lists; a pod created meanwhile had
    its fresh volumes removed as a deleted pod's leftovers (and Docker then made empty,
    unlabelled volumes of those names for its containers)."""
    import asyncio
    from types import SimpleNamespace

    from localsvc.node.garbage import collect_garbage

    pods: set[str] = set()
    removed: list[str] = []

    def list_containers(**_: object) -> list[object]:
        pods.add("new-pod")  # its worker makes its volumes while the node lists containers
        return []

    client = SimpleNamespace(containers=SimpleNamespace(list=list_containers),
                             volumes=_Volumes(["new-pod", "deleted-pod"], removed))
    gone = asyncio.run(collect_garbage(client, "e", lambda: set(pods)))  # type: ignore[arg-type]
    assert gone == {"deleted-pod"}
    assert removed == ["deleted-pod"]
