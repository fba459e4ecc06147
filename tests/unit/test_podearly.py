"""Which of a new pod's containers node/podearly.py creates while the sandbox starts: the plan's
containers named by the kubelet's rule, but for an image to pull first, a subPath or a hostPath.
(No Docker: with nothing to create, no creator is made; the containers it does create are the
integration tests' part.)"""

from __future__ import annotations

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
    plan = plan_pod(pod([{"name": "a", "image": "app:latest"}]), none, none)  # Always
    assert EarlyContainers(None, REF).creator(("a",), plan) is None  # type: ignore[arg-type]
    plan = plan_pod(pod([{"name": "a", "image": "app:1"}]), none, none)
    assert EarlyContainers(None, REF).creator((), plan) is None  # type: ignore[arg-type]


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
        tuple(c.name for c in only), plan) is None
    assert EarlyContainers(None, REF).creator(("plain",), plan) is not None  # type: ignore[arg-type]
