"""Fields localsvc accepts but does not act on (listed by `--strict`). Pure.

A manifest written for a cluster often carries fields that matter only there (scheduling,
security contexts, lifecycle hooks, ...). localsvc accepts them, so the same manifests deploy
unchanged; with `--strict` it names each one, so nobody relies on behaviour that is not emulated.
The trees below list what localsvc does act on; every other field of the official schema is
reported. A key the schema does not have is not "ignored": validation rejects it (fields.py).
"""

from __future__ import annotations

from typing import Any

from localsvc.model.fields import unknown_fields
from localsvc.model.load import Manifest, child_path

Tree = dict[str, Any]  # field -> subtree, LEAF (the whole value is used) or [subtree] (a list)
LEAF: Tree = {}
ANY = None  # any keys below (maps of user data: labels, ConfigMap data, ...)

PROBE: Tree = {
    "httpGet": {"path": LEAF, "port": LEAF, "host": LEAF, "scheme": LEAF,
                "httpHeaders": [{"name": LEAF, "value": LEAF}]},
    "tcpSocket": {"port": LEAF, "host": LEAF},
    "exec": {"command": LEAF},
    "initialDelaySeconds": LEAF, "periodSeconds": LEAF, "timeoutSeconds": LEAF,
    "successThreshold": LEAF, "failureThreshold": LEAF,
}
KEY_REF: Tree = {"name": LEAF, "key": LEAF, "optional": LEAF}
CONTAINER: Tree = {
    "name": LEAF, "image": LEAF, "imagePullPolicy": LEAF, "command": LEAF, "args": LEAF,
    "workingDir": LEAF, "tty": LEAF, "stdin": LEAF,
    "env": [{"name": LEAF, "value": LEAF, "valueFrom": {
        "configMapKeyRef": KEY_REF, "secretKeyRef": KEY_REF,
        "fieldRef": {"fieldPath": LEAF, "apiVersion": LEAF}}}],
    "envFrom": [{"prefix": LEAF, "configMapRef": {"name": LEAF, "optional": LEAF},
                 "secretRef": {"name": LEAF, "optional": LEAF}}],
    "ports": [{"name": LEAF, "containerPort": LEAF, "protocol": LEAF}],
    "volumeMounts": [{"name": LEAF, "mountPath": LEAF, "readOnly": LEAF, "subPath": LEAF,
                      "subPathExpr": LEAF}],
    "resources": {"limits": {"cpu": LEAF, "memory": LEAF}},
    "readinessProbe": PROBE, "livenessProbe": PROBE, "startupProbe": PROBE,
}
ITEMS: list[Tree] = [{"key": LEAF, "path": LEAF, "mode": LEAF}]
POD_SPEC: Tree = {
    "containers": [CONTAINER], "initContainers": [CONTAINER],
    "volumes": [{"name": LEAF, "emptyDir": ANY,
                 "configMap": {"name": LEAF, "items": ITEMS, "optional": LEAF,
                               "defaultMode": LEAF},
                 "secret": {"secretName": LEAF, "items": ITEMS, "optional": LEAF,
                            "defaultMode": LEAF},
                 "hostPath": {"path": LEAF, "type": LEAF},
                 "persistentVolumeClaim": {"claimName": LEAF, "readOnly": LEAF}}],
    "restartPolicy": LEAF, "terminationGracePeriodSeconds": LEAF, "hostname": LEAF,
    "subdomain": LEAF, "dnsPolicy": LEAF, "enableServiceLinks": LEAF,
    "dnsConfig": {"nameservers": LEAF, "searches": LEAF, "options": LEAF},
    "serviceAccountName": LEAF, "automountServiceAccountToken": LEAF,
}
METADATA: Tree = {"name": LEAF, "namespace": LEAF, "labels": ANY, "annotations": ANY}
INGRESS_BACKEND: Tree = {"service": {"name": LEAF, "port": {"name": LEAF, "number": LEAF}}}
PORTS: list[Tree] = [{"name": LEAF, "port": LEAF, "protocol": LEAF}]
JOB_SPEC: Tree = {
    "completions": LEAF, "parallelism": LEAF, "backoffLimit": LEAF,
    "activeDeadlineSeconds": LEAF, "ttlSecondsAfterFinished": LEAF, "suspend": LEAF,
    "completionMode": LEAF, "manualSelector": LEAF,
    "selector": {"matchLabels": ANY, "matchExpressions": LEAF},
    "template": {"metadata": METADATA, "spec": POD_SPEC},
}
KINDS: dict[str, Tree] = {
    "Namespace": {"metadata": METADATA},
    "Pod": {"metadata": METADATA, "spec": POD_SPEC},
    "Deployment": {"metadata": METADATA, "spec": {
        "replicas": LEAF,
        "selector": {"matchLabels": ANY, "matchExpressions": LEAF},
        "template": {"metadata": METADATA, "spec": POD_SPEC},
        "strategy": {"type": LEAF, "rollingUpdate": {"maxSurge": LEAF, "maxUnavailable": LEAF}},
    }},
    "Service": {"metadata": METADATA, "spec": {
        "type": LEAF, "selector": ANY, "clusterIP": LEAF, "externalName": LEAF,
        "ports": [{"name": LEAF, "port": LEAF, "targetPort": LEAF, "protocol": LEAF,
                   "nodePort": LEAF}],
        "sessionAffinity": LEAF, "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": LEAF}},
        "publishNotReadyAddresses": LEAF, "loadBalancerSourceRanges": LEAF,
        "allocateLoadBalancerNodePorts": LEAF, "externalIPs": LEAF,
    }},
    "ConfigMap": {"metadata": METADATA, "data": ANY, "binaryData": ANY},
    "Secret": {"metadata": METADATA, "data": ANY, "stringData": ANY, "type": LEAF},
    # secrets and imagePullSecrets are accepted but ignored (tokens are minted per pod).
    "ServiceAccount": {"metadata": METADATA, "automountServiceAccountToken": LEAF},
    "Endpoints": {"metadata": METADATA, "subsets": [{
        "addresses": [{"ip": LEAF, "hostname": LEAF}],
        "notReadyAddresses": [{"ip": LEAF, "hostname": LEAF}], "ports": PORTS}]},
    "EndpointSlice": {"metadata": METADATA, "addressType": LEAF, "ports": PORTS, "endpoints": [{
        "addresses": LEAF, "hostname": LEAF, "conditions": {"ready": LEAF}}]},
    # volumeMode is Filesystem only; selector and dataSource leave a claim Pending (reported).
    "PersistentVolumeClaim": {"metadata": METADATA, "spec": {
        "accessModes": LEAF, "resources": {"requests": {"storage": LEAF}},
        "storageClassName": LEAF, "volumeMode": LEAF, "volumeName": LEAF, "selector": LEAF,
        "dataSource": LEAF, "dataSourceRef": LEAF}},
    "Ingress": {"metadata": METADATA, "spec": {
        "ingressClassName": LEAF, "defaultBackend": INGRESS_BACKEND,
        "tls": [{"hosts": LEAF, "secretName": LEAF}],
        "rules": [{"host": LEAF, "http": {"paths": [
            {"path": LEAF, "pathType": LEAF, "backend": INGRESS_BACKEND}]}}]}},
    "IngressClass": {"metadata": METADATA, "spec": {"controller": LEAF}},
    # maxUnavailable needs a feature gate that is off by default in v1.32: listed as ignored.
    "StatefulSet": {"metadata": METADATA, "spec": {
        "replicas": LEAF, "serviceName": LEAF, "podManagementPolicy": LEAF,
        "ordinals": {"start": LEAF},
        "minReadySeconds": LEAF, "revisionHistoryLimit": LEAF,
        "selector": {"matchLabels": ANY, "matchExpressions": LEAF},
        "template": {"metadata": METADATA, "spec": POD_SPEC},
        "updateStrategy": {"type": LEAF, "rollingUpdate": {"partition": LEAF}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": LEAF, "whenScaled": LEAF},
        "volumeClaimTemplates": [{"metadata": METADATA, "spec": ANY}],
    }},
    "Job": {"metadata": METADATA, "spec": JOB_SPEC},
    "CronJob": {"metadata": METADATA, "spec": {
        "schedule": LEAF, "timeZone": LEAF, "concurrencyPolicy": LEAF, "suspend": LEAF,
        "startingDeadlineSeconds": LEAF, "successfulJobsHistoryLimit": LEAF,
        "failedJobsHistoryLimit": LEAF,
        "jobTemplate": {"metadata": METADATA, "spec": JOB_SPEC},
    }},
    "DaemonSet": {"metadata": METADATA, "spec": {
        "selector": {"matchLabels": ANY, "matchExpressions": LEAF},
        "template": {"metadata": METADATA, "spec": {
            **POD_SPEC, "nodeSelector": ANY, "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": LEAF}}}},
        "updateStrategy": {"type": LEAF,
                           "rollingUpdate": {"maxSurge": LEAF, "maxUnavailable": LEAF}},
        "minReadySeconds": LEAF,
    }},
}
ALWAYS = {"apiVersion", "kind", "status"}  # status is the server's to fill; never an instruction


def _walk(value: Any, tree: Any, path: str, out: list[str]) -> None:
    if tree is ANY or (isinstance(tree, dict) and not tree):
        return  # user data, or a field used whole
    if isinstance(tree, list):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(item, tree[0], child_path(path, i), out)
        return
    if not isinstance(value, dict):
        return
    for key, sub in value.items():
        here = child_path(path, key)
        if key not in tree:
            if not (path == "" and key in ALWAYS):
                out.append(here)
            continue
        _walk(sub, tree[key], here, out)


def ignored_fields(manifest: Manifest) -> list[str]:
    """Field paths of `manifest` that localsvc accepts but does not act on (real fields only)."""
    tree = KINDS.get(manifest.kind)
    if tree is None:
        return []
    out: list[str] = []
    _walk(manifest.obj, tree, "", out)
    unknown = {field.path for field in unknown_fields(manifest.kind, manifest.obj)}
    return [path for path in out if path not in unknown]


def strict_report(manifests: list[Manifest]) -> list[str]:
    return [
        f"{m.file}:{m.line_of(path)}: {m.kind}/{m.name}: {path}: accepted but ignored by localsvc"
        for m in manifests
        for path in ignored_fields(m)
    ]
