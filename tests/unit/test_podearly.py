"""Which of a new pod's containers node/podearly.py creates while the sandbox starts: the plan's
containers named by the kubelet's rule, but for an image to pull first, a subPath or a hostPath.
(No Docker: with nothing to create, no creator is made; the containers it does create are the
integration tests' part.)"""

from __future__ import annotations

import asyncio
from typing import Any

from localsvc.model.podplan import plan_pod
from localsvc.node.podearly import EarlyContainers
from localsvc.runtime.pods import PodRef

REF = PodRef("e", "default", "p", "uid-1", "localsvc-e")


def none(namespace: str, name: str) -> None:
    return None


def pod(containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None
        ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"containers": containers, "volumes": volumes or []}}


def test_nothing_to_create_makes_no_creator() -> None:
    obj = pod([{"name": "a", "image": "app:latest"}])  # Always
    assert EarlyContainers(None, REF).creator(  # type: ignore[arg-type]
        ("a",), plan_pod(obj, none, none), obj) is None
    obj = pod([{"name": "a", "image": "app:1"}])
    assert EarlyContainers(None, REF).creator(  # type: ignore[arg-type]
        (), plan_pod(obj, none, none), obj) is None


def test_subpath_and_hostpath_mounts_wait_for_the_sandbox() -> None:
    volumes = [{"name": "cfg", "emptyDir": {}},
               {"name": "host", "hostPath": {"path": "/tmp"}}]
    obj = pod([{"name": "plain", "image": "app:1", "volumeMounts": [{"name": "cfg", "mountPath": "/c"}]},
               {"name": "sub", "image": "app:1",
                "volumeMounts": [{"name": "cfg", "mountPath": "/c", "subPath": "x"}]},
               {"name": "host", "image": "app:1",
                "volumeMounts": [{"name": "host", "mountPath": "/h"}]}], volumes)
    plan = plan_pod(obj, none, none)
    only = [c for c in plan.containers if c.name in ("sub", "host")]
    assert EarlyContainers(None, REF).creator(  # type: ignore[arg-type]
        tuple(c.name for c in only), plan, obj) is None
    assert EarlyContainers(None, REF).creator(  # type: ignore[arg-type]
        ("plain",), plan, obj) is not None


def test_a_container_holding_the_pod_ip_waits_for_the_sandbox() -> None:
    # Its first plan has no IP yet: made early, it was always removed and made again.
    by_ip = {"name": "ip", "image": "app:1", "env": [
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    obj = pod([by_ip])
    assert EarlyContainers(None, REF).creator(  # type: ignore[arg-type]
        ("ip",), plan_pod(obj, none, none), obj) is None


class FakeContainer:
    def __init__(self) -> None:
        self.removed = False

    def remove(self, force: bool) -> None:
        self.removed = force


def test_a_container_made_for_another_sandbox_is_removed_not_taken() -> None:
    obj = pod([{"name": "a", "image": "app:1"}])
    (plan,) = plan_pod(obj, none, none).containers
    early = EarlyContainers(None, REF)  # type: ignore[arg-type]
    made = FakeContainer()
    early.made["a"] = (plan, made, "infra-1")
    assert asyncio.run(early.take(plan, 0, "infra-2")) is None  # the sandbox was replaced
    assert made.removed and not early.made
    early.made["a"] = (plan, made := FakeContainer(), "infra-2")
    assert asyncio.run(early.take(plan, 0, "infra-2")) is made and not made.removed
