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
