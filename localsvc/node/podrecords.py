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
from localsvc.model.replicasets import pod_owner_reference
from localsvc.node.store import PodRecord

Obj = dict[str, Any]


def deployment_pod(deployment: Obj, dkey: str, hash_: str, taken: Container[str],
                   replicaset_uid: str = "") -> PodRecord:
    """A new pod of `deployment` for template hash `hash_`, its name not among the
    `namespace/name` keys in `taken`, owned by the ReplicaSet of that hash (uid
    `replicaset_uid`)."""
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
            "ownerReferences": [pod_owner_reference(meta["name"], hash_, replicaset_uid)],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    if not pod["metadata"]["annotations"]:
        del pod["metadata"]["annotations"]
    return PodRecord(obj=pod, owner=dkey, template_hash=hash_, created=now)


def owner_uid(record: PodRecord) -> str:
    """The uid of the ReplicaSet a Deployment's pod names as its owner ("" when none)."""
    refs = record.obj["metadata"].get("ownerReferences") or [{}]
    return str(refs[0].get("uid") or "")


def with_owner_uid(record: PodRecord, replicaset_uid: str) -> Obj:
    """The object of `record` with its ReplicaSet ownerReference carrying `replicaset_uid`
    (pods made before ReplicaSets had uids): a new object, the stored one is never changed."""
    meta = record.obj["metadata"]
    deployment = str(record.owner).rsplit("/", 1)[-1]  # owner: "Deployment/namespace/name"
    refs = [pod_owner_reference(deployment, record.template_hash, replicaset_uid)]
    return {**record.obj, "metadata": {**meta, "ownerReferences": refs}}


def bare_pod(obj: Obj) -> PodRecord:
    """The record of an applied Pod: its own copy, so later edits of the stored object do not
    reach the running pod."""
    return PodRecord(obj=copy.deepcopy(obj), owner=None, created=time.time())


__all__ = ["bare_pod", "deployment_pod", "owner_uid", "with_owner_uid"]
