"""The node's side of Ingress without Docker: its IngressClass in the store, which Ingresses it
serves, their status, the plan from stored Services and Secrets, events once per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.node import ingressctl, ingresssync
from localsvc.model.haproxyconfig import render
from localsvc.model.ingressroutes import Problem
from localsvc.node.ingressctl import Published
from tests.unit.ingress_builders import ingress, path, rule
from tests.unit.node_builders import controller, manifests, service

Obj = dict[str, Any]


def named(obj: Obj, **spec: Any) -> Obj:
    return {**obj, "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": obj["metadata"]["name"], "namespace": "default"},
            "spec": {**obj["spec"], **spec}}


def test_the_node_publishes_its_default_ingress_class(tmp_path: Path) -> None:
    node = controller(tmp_path)
    found = node.objects.get("IngressClass//localsvc")
    assert found is not None
    assert found["metadata"]["annotations"] == {
        "ingressclass.kubernetes.io/is-default-class": "true"}
    assert found["spec"] == {"controller": "localsvc.io/ingress-haproxy"}
    # An applied IngressClass of that name replaces it (one object, the applied one).
    node.apply(manifests({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                          "metadata": {"name": "localsvc"},
                          "spec": {"controller": "example.com/other"}}), prune=False)
    node.sync()
    classes = node.list_objects("IngressClass", None)
    assert [c["spec"]["controller"] for c in classes] == ["example.com/other"]


def test_served_ingresses_their_plan_and_status(tmp_path: Path) -> None:
    node = controller(tmp_path)
    ours = named(ingress("shop", [rule("shop.localhost", path("/"))]))
    theirs = named(ingress("theirs", [rule("t.localhost", path("/"))]),
                   ingressClassName="nginx")
    node.apply(manifests(service("web"), ours, theirs), prune=False)
    node.sync()
    served = node._served_ingresses()
    assert [o["metadata"]["name"] for o in served] == ["shop"]
    plan = node._ingress_plan(served)
    web = node.objects.get("Service/default/web")
    assert web is not None
    cluster_ip = web["spec"]["clusterIP"]
    assert plan.routes[0].backend.address == f"{cluster_ip}:80"
    assert f"server svc {cluster_ip}:80" in render(plan)
    node._ingress_served = frozenset({"default/shop"})
    assert node.ingress_status(ours) == {"loadBalancer": {}}  # no controller yet
    node._ingress_published = Published(80, 443)
    assert node.ingress_status(ours) == {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    assert node.ingress_status(theirs) is None  # left alone
    node._ingress_published = Published(32001, 32002, "127.0.0.1:80 not available")
    node.sync()
    shown = node.objects.get("Ingress/default/shop")
    assert shown is not None and shown["status"]["loadBalancer"]["ingress"][0]["ports"] == [
        {"port": 32001, "protocol": "TCP"}, {"port": 32002, "protocol": "TCP"}]
    other = node.objects.get("Ingress/default/theirs")
    assert other is not None and "ingress" not in (other.get("status") or {}).get(
        "loadBalancer", {})
    summary = node.ingress_summary()
    assert summary["ports"] == [32001, 32002] and summary["wantedPorts"] == [80, 443]


def test_each_problem_is_one_event(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(named(ingress("shop", [rule("a.localhost", path("/"))]))),
               prune=False)
    problems = (Problem("default/shop", "ServiceNotFound", "no web"),
                Problem("default/shop", "InvalidTLSSecret", "no tls"))

    def events() -> list[Obj]:
        return [o for o in node.list_objects("Event", "default")
                if o["involvedObject"]["name"] == "shop"]

    node._report_ingress_problems(problems)
    node._report_ingress_problems(problems)
    assert sorted((e["reason"], e.get("count", 1)) for e in events()) == [
        ("InvalidTLSSecret", 1), ("ServiceNotFound", 1)]
    assert all(e["type"] == "Warning" and e["involvedObject"]["kind"] == "Ingress"
               for e in events())
    node._report_ingress_problems(problems[:1])
    node._report_ingress_problems(problems)  # back again: reported again
    assert sorted((e["reason"], e.get("count", 1)) for e in events()) == [
        ("InvalidTLSSecret", 2), ("ServiceNotFound", 1)]


def test_the_files_digest_is_computed_only_when_the_inputs_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("web"), named(ingress("shop", [rule("s.localhost", path("/"))]))),
               prune=False)
    node.sync()
    digests: list[str] = []
    passes: list[dict[str, bytes] | None] = []

    def counted(files: dict[str, bytes]) -> str:
        digests.append(real_digest(files))
        return digests[-1]

    class Finished:  # the container pass, as if it ran at once (no Docker here)
        def done(self) -> bool:
            return True

    def start_pass(coroutine: Any, name: str) -> Finished:
        coroutine.close()
        passes.append(node._ingress_files)
        return Finished()

    real_digest = ingressctl.digest
    monkeypatch.setattr(ingressctl, "digest", counted)
    monkeypatch.setattr(ingresssync, "spawn", start_pass)
    node._reconcile_ingress()
    node._reconcile_ingress()
    node._reconcile_ingress(force=True)  # the periodic pass: the kept digest, no new one
    assert len(digests) == 1 and len(passes) == 2
    node.generation += 1  # an input changed: files and digest again, same files, no new pass
    node._reconcile_ingress()
    assert len(digests) == 2 and len(passes) == 2
