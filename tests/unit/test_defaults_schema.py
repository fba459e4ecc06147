"""Every field with_defaults writes is one of the official 1.32 schema's, of its type, and a
defaulted object passes the validation its manifest passed."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import localsvc.model
from localsvc.model.defaults import with_defaults
from localsvc.model.load import Manifest, load_paths
from localsvc.model.validate import validate
from tests.unit.defaults_builders import ALL_KINDS, CLIENT_POD, Obj, container, pod


DATA = Path(localsvc.model.__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,)}


@cache
def _schemas() -> dict[str, Obj]:
    """The 1.32 OpenAPI v3 component schemas localsvc serves, of every group."""
    schemas: dict[str, Obj] = {}
    for path in sorted(DATA.glob("openapi-v3-*.json.gz")):
        schemas.update(json.loads(gzip.decompress(path.read_bytes()))["components"]["schemas"])
    return schemas


def _resolve(node: Obj) -> Obj:
    while True:
        ref = node.get("$ref") or (node.get("allOf") or [{}])[0].get("$ref")
        if ref is None:
            return node
        node = _schemas()[ref.rsplit("/", 1)[1]]


def _schema_errors(value: Any, node: Obj, path: str) -> list[str]:
    node = _resolve(node)
    types = [t["type"] for t in node.get("oneOf", [])] or [node.get("type")]
    allowed = tuple(py for t in types if t for py in _TYPES[t])
    if allowed and (not isinstance(value, allowed)
                    or isinstance(value, bool) and bool not in allowed):
        return [f"{path}: {value!r} is not {'/'.join(t for t in types if t)}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties, extra = node.get("properties"), node.get("additionalProperties")
        for key, child in value.items():
            if properties is not None and key in properties:
                errors += _schema_errors(child, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += _schema_errors(child, extra, f"{path}.{key}")
            elif properties is not None:
                errors.append(f"{path}.{key}: not in the schema")
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            errors += _schema_errors(item, node["items"], f"{path}[{index}]")
    return errors


def _schema_of(obj: Obj) -> Obj:
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    for schema in _schemas().values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (group, version, obj["kind"]):
                return schema
    raise AssertionError(f"no schema for {obj['apiVersion']} {obj['kind']}")


EVERY_RULE: list[Obj] = ALL_KINDS + [
    pod({"containers": [container(
        env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        livenessProbe={"httpGet": {"port": 80}}, readinessProbe={"grpc": {"port": 1}},
        startupProbe={"tcpSocket": {"port": 80}},
        lifecycle={"preStop": {"httpGet": {"port": 80}}},
        resources={"limits": {"cpu": 0.5}})],
        "initContainers": [container(name="i")], "ephemeralContainers": [container(name="e")],
        "overhead": {"cpu": "0.1"},
        "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "c"}},
                    {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "hostPath": {"path": "/d"}},
                    {"name": "e", "emptyDir": {"sizeLimit": "1024Mi"}},
                    {"name": "f", "downwardAPI": {"items": [
                        {"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                    {"name": "g", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]}),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
     "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
     "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
     "spec": {"resources": {"requests": {"storage": "1Gi"}}}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
            {"type": "DisruptionTarget"}]}]}, "template": {"spec": {"containers": []}}}},
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "s"},
     "provisioner": "p"},
    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "i"},
     "spec": {"parameters": {"kind": "K", "name": "n"}}},
]


@pytest.mark.parametrize("obj", EVERY_RULE, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_defaulted_field_is_in_the_official_schema(obj: Obj) -> None:
    out = with_defaults(obj)
    assert out != obj
    assert _schema_errors(out, _schema_of(out), "") == []


def test_the_examples_default_into_the_schema_and_stay_put() -> None:
    manifests = [m.obj for m in load_paths([EXAMPLES]).manifests]
    assert len(manifests) > 10
    for obj in manifests:
        once = with_defaults(obj)
        assert (_schema_errors(once, _schema_of(once), obj["metadata"]["name"]),
                with_defaults(once)) == ([], once)


def test_the_schema_check_finds_unknown_fields_and_wrong_types() -> None:
    pod = with_defaults(CLIENT_POD)
    pod["spec"]["containers"][0]["terminationMesagePolicy"] = "File"
    pod["spec"]["terminationGracePeriodSeconds"] = "30"
    pod["spec"]["containers"][0]["resources"]["limits"] = {"cpu": True}
    assert _schema_errors(pod, _schema_of(pod), "") == [
        ".spec.containers[0].resources.limits.cpu: True is not string/number",
        ".spec.containers[0].terminationMesagePolicy: not in the schema",
        ".spec.terminationGracePeriodSeconds: '30' is not integer"]



def test_a_defaulted_object_passes_the_validation_its_manifest_passed() -> None:
    """kubectl edit and replace send the stored, defaulted object back: it must not fail the
    rules its manifest passed."""
    def problems(obj: Obj) -> list[str]:
        return [p.message for p in validate([Manifest(obj=obj, file="x.yaml", line=1)])]
    served = ("Pod", "Deployment", "Service", "ConfigMap", "Secret", "Endpoints", "EndpointSlice",
              "Namespace")
    objs = [o for o in EVERY_RULE if o["kind"] in served] + \
        [m.obj for m in load_paths([EXAMPLES]).manifests]
    assert len(objs) > 20
    for obj in objs:
        assert [p for p in problems(with_defaults(obj)) if p not in problems(obj)] == []
