"""The pod records the controller creates: a bare Pod's own copy, and a Deployment's new pod
(named, labelled and owned like the pods of a Kubernetes ReplicaSet)."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Container
from typing import Any

from localsvc.model import deployments as dep
from localsvc.model.objects import now_iso
from localsvc.node.store import PodRecord

Obj = dict[str, Any]


def deployment_pod(deployment: Obj, dkey: str, hash_: str, taken: Container[str]) -> PodRecord:
    """A new pod of `deployment` for template hash `hash_`, its name not among the
    `namespace/name` keys in `taken`."""
    meta = deployment["metadata"]
    template = deployment["spec"]["template"]
    tmeta = template.get("metadata") or {}
    while True:
        name = dep.pod_name(meta["name"], hash_, dep.random_suffix())
        if f"{meta['namespace']}/{name}" not in taken:
            break
    now = time.time()
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now_iso(now),
            "generateName": f"{meta['name']}-{hash_}-",
            "labels": {**(tmeta.get("labels") or {}), "pod-template-hash": hash_},
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{meta['name']}-{hash_}",
                    "controller": True,
                }
            ],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    if not pod["metadata"]["annotations"]:
        del pod["metadata"]["annotations"]
    return PodRecord(obj=pod, owner=dkey, template_hash=hash_, created=now)


def bare_pod(obj: Obj) -> PodRecord:
    """The record of an applied Pod: its own copy, so later edits of the stored object do not
    reach the running pod."""
    return PodRecord(obj=copy.deepcopy(obj), owner=None, created=time.time())


__all__ = ["bare_pod", "deployment_pod"]
