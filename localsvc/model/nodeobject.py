"""The objects every environment has without anyone applying them, as a cluster does: its one
Node (named as its pods' spec.nodeName) and a `default` ServiceAccount in each namespace. Pure."""

from __future__ import annotations

import platform
from typing import Any

from localsvc.model.kubeapi.discovery import KUBERNETES_VERSION, go_arch
from localsvc.version import __version__

Obj = dict[str, Any]
NODE_NAME = "localsvc"  # what pods report as spec.nodeName (model/views.py)


def node_object(node_ip: str, created: str, max_pods: int = 110) -> Obj:
    arch = go_arch(platform.machine())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "creationTimestamp": created,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {},
        "status": {
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "localsvc node is serving", "lastHeartbeatTime": created,
                "lastTransitionTime": created,
            }],
            "addresses": [{"type": "InternalIP", "address": node_ip},
                          {"type": "Hostname", "address": NODE_NAME}],
            "capacity": {"pods": str(max_pods)},
            "allocatable": {"pods": str(max_pods)},
            "nodeInfo": {
                "kubeletVersion": f"v{KUBERNETES_VERSION}+localsvc.{__version__}",
                "kubeProxyVersion": f"v{KUBERNETES_VERSION}+localsvc.{__version__}",
                "osImage": "localsvc (Docker)",
                "kernelVersion": platform.release(),
                "containerRuntimeVersion": "docker",
                "operatingSystem": "linux",
                "architecture": arch,
                "machineID": "", "systemUUID": "", "bootID": "",
            },
        },
    }


def default_service_account(namespace: str, created: str, uid: str) -> Obj:
    """A namespace's `default` ServiceAccount, with the uid its pods' tokens carry (stable
    across node restarts: model/incluster.default_account_uid)."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace,
                         "creationTimestamp": created, "uid": uid}}


__all__ = ["NODE_NAME", "default_service_account", "node_object"]
