"""Builders for node-side unit tests: a Controller over a state directory (its Docker client is
never used when no pods are involved), a Service object, manifests from plain objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from localsvc.model.load import Manifest
from localsvc.model.nodeconfig import NodeConfig
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
