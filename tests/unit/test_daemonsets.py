"""The DaemonSet controller's decisions on the one node (model/daemonsets.py)."""

from __future__ import annotations

from localsvc.model.daemonsets import DaemonPod, daemon_status, plan_daemon, schedulable

NODE = {"kubernetes.io/hostname": "localsvc", "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64"}
ROLLING = {"updateStrategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}
SURGE = {"updateStrategy": {"type": "RollingUpdate",
                            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}


def pod(name: str, hash_: str, available: bool = True, created: float = 0.0) -> DaemonPod:
    return DaemonPod(name, hash_, available, available, created)


def term(*expressions: dict[str, object], fields: list[dict[str, object]] | None = None
         ) -> dict[str, object]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(expressions),
                               **({"matchFields": fields} if fields else {})}]}}}}


def test_node_selector_and_required_affinity() -> None:
    assert schedulable({}, NODE, "localsvc")
    assert schedulable({"nodeSelector": {"kubernetes.io/os": "linux"}}, NODE, "localsvc")
    assert not schedulable({"nodeSelector": {"disk": "ssd"}}, NODE, "localsvc")
    assert schedulable(term({"key": "kubernetes.io/arch", "operator": "In",
                             "values": ["amd64", "arm64"]}), NODE, "localsvc")
    assert not schedulable(term({"key": "kubernetes.io/os", "operator": "NotIn",
                                 "values": ["linux"]}), NODE, "localsvc")
    assert schedulable(term(fields=[{"key": "metadata.name", "operator": "In",
                                     "values": ["localsvc"]}]), NODE, "localsvc")
    assert not schedulable(term(fields=[{"key": "metadata.name", "operator": "In",
                                         "values": ["other"]}]), NODE, "localsvc")
    assert not schedulable({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}},
        NODE, "localsvc")


def test_one_pod_when_the_node_fits_none_when_not() -> None:
    assert plan_daemon(ROLLING, "h1", [], True).create
    assert not plan_daemon(ROLLING, "h1", [pod("a", "h1")], True).create
    assert plan_daemon(ROLLING, "h1", [pod("a", "h1")], False).delete == ["a"]
    extra = plan_daemon(ROLLING, "h1", [pod("a", "h1", created=1), pod("b", "h1", created=2)],
                        True)
    assert extra.delete == ["b"]


def test_rolling_update_deletes_first_or_surges() -> None:
    step = plan_daemon(ROLLING, "h2", [pod("old", "h1")], True)
    assert (step.create, step.delete) == (False, ["old"])
    surge = plan_daemon(SURGE, "h2", [pod("old", "h1")], True)
    assert (surge.create, surge.delete) == (True, [])
    waiting = plan_daemon(SURGE, "h2", [pod("old", "h1"), pod("new", "h2", available=False)], True)
    assert (waiting.create, waiting.delete) == (False, [])
    done = plan_daemon(SURGE, "h2", [pod("old", "h1"), pod("new", "h2")], True)
    assert done.delete == ["old"]


def test_on_delete_waits_for_the_user() -> None:
    on_delete = {"updateStrategy": {"type": "OnDelete"}}
    assert plan_daemon(on_delete, "h2", [pod("old", "h1")], True).delete == []
    assert plan_daemon(on_delete, "h2", [], True).create


def test_status_counts() -> None:
    status = daemon_status(3, True, "h2", [pod("old", "h1")])
    assert status == {"currentNumberScheduled": 1, "numberMisscheduled": 0,
                      "desiredNumberScheduled": 1, "numberReady": 1, "observedGeneration": 3,
                      "updatedNumberScheduled": 0, "numberAvailable": 1}
    none = daemon_status(1, False, "h1", [])
    assert (none["desiredNumberScheduled"], none["currentNumberScheduled"]) == (0, 0)
    starting = daemon_status(1, True, "h1", [pod("a", "h1", available=False)])
    assert starting["numberUnavailable"] == 1 and starting["numberAvailable"] == 0
