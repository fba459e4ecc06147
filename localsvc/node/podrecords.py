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


def unique_name(prefix: str, namespace: str, taken: Container[str]) -> str:
    """`<prefix><5 random>` (generateName), not among the `namespace/name` keys in `taken`."""
    while True:
        name = f"{prefix}{dep.random_suffix()}"
        if f"{namespace}/{name}" not in taken:
            return name


def new_pod(namespace: str, name: str, generate_name: str, template: Obj, labels: dict[str, str],
            owner_ref: Obj, owner_key: str, template_hash: str = "",
            spec: Obj | None = None) -> PodRecord:
    """A pod a controller makes from its pod `template`: the template's labels plus `labels`,
    its annotations, owned by `owner_ref` (the ownerReference) and recorded under `owner_key`
    (the workload's table key); `spec`: the pod spec when the controller changed the
    template's (a copy of the template's otherwise)."""
    tmeta = template.get("metadata") or {}
    now = time.time()
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "creationTimestamp": now_iso(now),
        "generateName": generate_name,
        "labels": {**(tmeta.get("labels") or {}), **labels},
        "ownerReferences": [owner_ref],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": copy.deepcopy(template.get("spec") or {}) if spec is None else spec}
    return PodRecord(obj=pod, owner=owner_key, template_hash=template_hash, created=now)


def deployment_pod(deployment: Obj, dkey: str, hash_: str, taken: Container[str],
                   replicaset_uid: str = "") -> PodRecord:
    """A new pod of `deployment` for template hash `hash_`, its name not among the
    `namespace/name` keys in `taken`, owned by the ReplicaSet of that hash (uid
    `replicaset_uid`)."""
    meta = deployment["metadata"]
    prefix = f"{meta['name']}-{hash_}-"
    return new_pod(meta["namespace"], unique_name(prefix, meta["namespace"], taken), prefix,
                   deployment["spec"]["template"], {"pod-template-hash": hash_},
                   pod_owner_reference(meta["name"], hash_, replicaset_uid), dkey, hash_)


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


__all__ = ["bare_pod", "deployment_pod", "new_pod", "owner_uid", "unique_name", "with_owner_uid"]
