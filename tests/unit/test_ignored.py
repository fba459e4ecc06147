"""`--strict`: which accepted fields localsvc does not act on."""

from __future__ import annotations

import pytest

from localsvc.model.ignored import ignored_fields, strict_report
from localsvc.model.load import load_text

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {a: b}, finalizers: [x]}
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {disk: ssd}
      containers:
      - name: web
        image: x:1
        resources: {requests: {cpu: 1}, limits: {cpu: 1}}
        lifecycle: {preStop: {exec: {command: [sh]}}}
        env: [{name: A, value: b}]
        readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}
      volumes:
      - {name: v, configMap: {name: c, defaultMode: 420}}
status: {replicas: 9}
"""


def test_deployment_fields_ignored_and_used() -> None:
    manifest = load_text(DEPLOYMENT, "d.yaml").manifests[0]
    assert ignored_fields(manifest) == [
        "metadata.finalizers",
        "spec.revisionHistoryLimit",
        "spec.template.spec.nodeSelector",
        "spec.template.spec.containers[0].resources.requests",
        "spec.template.spec.containers[0].lifecycle",
    ]
    assert strict_report([manifest])[0] == (
        "d.yaml:3: Deployment/web: metadata.finalizers: accepted but ignored by localsvc")


@pytest.mark.parametrize(("text", "expected"), [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n"
     "  externalTrafficPolicy: Local\n  ipFamilies: [IPv4]\n",
     ["spec.externalTrafficPolicy", "spec.ipFamilies"]),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {any: thing}\nimmutable: true\n",
     ["immutable"]),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n", []),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  serviceAccountName: x\n"
     "  automountServiceAccountToken: false\n"
     "  containers: [{name: c, image: i:1, securityContext: {runAsUser: 1}}]\n",
     ["spec.containers[0].securityContext"]),
    ("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: op}\n"
     "automountServiceAccountToken: false\nimagePullSecrets: [{name: reg}]\n",
     ["imagePullSecrets"]),
])
def test_other_kinds(text: str, expected: list[str]) -> None:
    assert ignored_fields(load_text(text, "x.yaml").manifests[0]) == expected


def test_volume_fields_localsvc_acts_on_are_not_listed() -> None:
    text = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: x:1
    volumeMounts:
    - {name: src, mountPath: /src, subPath: app, readOnly: true}
    - {name: data, mountPath: /data, subPathExpr: $(POD), mountPropagation: None}
  volumes:
  - {name: src, hostPath: {path: /home/me/src, type: Directory}}
  - {name: data, persistentVolumeClaim: {claimName: data, readOnly: false}}
  - {name: cfg, configMap: {name: c, defaultMode: 0400, items: [{key: k, path: k, mode: 0600}]}}
  - {name: sec, secret: {secretName: s, defaultMode: 0400}}
"""
    manifest = load_text(text, "p.yaml").manifests[0]
    assert ignored_fields(manifest) == ["spec.containers[0].volumeMounts[1].mountPropagation"]
