"""Builders for node-side unit tests: a Controller over a state directory (its Docker client is
never used when no pods are involved), a Service object, manifests from plain objects, a
snapshot ServiceInfo, and a Dataplane that records what it was asked to program."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from localsvc.model.load import Manifest
from localsvc.model.nodeconfig import NodeConfig
from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.node.context import NodeContext
from localsvc.node.controller import Controller
from localsvc.node.network import NetworkSync
from localsvc.node.store import Store

Obj = dict[str, Any]


def config(state_dir: Path) -> NodeConfig:
    return NodeConfig(env="unit", network="n", subnet="10.231.0.0/16", node_ip="10.231.0.2",
                      image="i", token="t", state_dir=state_dir, cluster_domain="cluster.local")


def controller(state_dir: Path, network: NetworkSync | None = None) -> Controller:
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    return Controller(NodeContext(config(state_dir), client), Store(state_dir), network)


def service(name: str, headless: bool = False) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}],
                     **({"clusterIP": "None"} if headless else {})}}


def manifests(*objs: Obj) -> list[Manifest]:
    return [Manifest(obj=o, file="t.yaml", line=1) for o in objs]


def service_info(name: str, ip: str | None, endpoints: tuple[str, ...] = ()) -> ServiceInfo:
    return ServiceInfo("default", name, "ClusterIP", ip, (ServicePort("http", "TCP", 80),),
                       tuple(Endpoint(e, True, {"http": 8080}) for e in endpoints))


class RecordingDataplane:
    """The Dataplane protocol, recording what it was asked to program (no nft, no sockets)."""

    def __init__(self) -> None:
        self.applied: list[Snapshot] = []

    async def apply(self, snapshot: Snapshot) -> None:
        self.applied.append(snapshot)

    async def close(self) -> None:
        pass
