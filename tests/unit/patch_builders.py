"""Builders shared by the patch tests: a Deployment with every list kind, and a strategic merge
patch call that checks it never mutates its inputs."""

from __future__ import annotations

import copy
from typing import Any

from localsvc.model.kubeapi.patch import apply_strategic_merge_patch

DEPLOYMENT = "apps.v1.Deployment"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                     "annotations": {"team": "a"}, "finalizers": ["a.example/x", "b.example/y"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"},
                                   {"containerPort": 443, "protocol": "TCP"}],
                         "args": ["--one", "--two"]},
                        {"name": "log", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}},
                                {"name": "conf", "configMap": {"name": "web-conf"}}],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                },
            },
        },
    }


def smp(patch: dict[str, Any], obj: dict[str, Any] | None = None,
        type_name: str = DEPLOYMENT) -> dict[str, Any]:
    original = deployment() if obj is None else obj
    before = copy.deepcopy(original)
    frozen_patch = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(original, patch, type_name)
    assert original == before and patch == frozen_patch  # never mutates its inputs
    return result


def pod_spec(result: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = result["spec"]["template"]["spec"]
    return spec


def container(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(result)["containers"] if c["name"] == name)


def names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [item[key] for item in items]
