"""Tests of localsvc.model.fields: the generated schema data, the walk and the suggestions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localsvc.model import fields
from localsvc.model.fields import explain_path, suggest, unknown_fields
from localsvc.model.load import SUPPORTED_KINDS


def _paths(kind: str, obj: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(u.path, u.suggestion) for u in unknown_fields(kind, obj)]


def test_data_file_is_small_and_covers_every_supported_kind() -> None:
    # Packaged with the wheel (hatch includes package files) and read by the node too.
    assert fields.DATA_FILE.stat().st_size < 60_000
    data = fields.schema()
    assert "Kubernetes v1.32" in data.source
    assert set(data.kinds) == {kind for _, kind in SUPPORTED_KINDS}
    # Every field type named is a known object type, a list/map of one, or a scalar.
    scalars = {"string", "integer", "number", "boolean", "int-or-string", "quantity", "any"}
    for type_name, type_fields in data.types.items():
        for field_type in type_fields.values():
            inner = field_type
            while inner.startswith(("[]", "map[string]")):
                inner = inner.removeprefix("[]").removeprefix("map[string]")
            assert inner in scalars or inner in data.types, (type_name, field_type)


def test_data_file_is_what_the_script_writes() -> None:
    text = fields.DATA_FILE.read_text(encoding="utf-8")
    data = json.loads(text)
    assert list(data) == ["source", "kinds", "types"]
    assert list(data["types"]) == sorted(data["types"])
    container = data["types"]["core.v1.Container"]
    assert container["imagePullPolicy"] == "string"
    assert container["env"] == "[]core.v1.EnvVar"
    assert container["ports"] == "[]core.v1.ContainerPort"
    assert data["types"]["core.v1.ResourceRequirements"]["limits"] == "map[string]quantity"
    assert data["types"]["meta.v1.ObjectMeta"]["labels"] == "map[string]string"
    assert data["types"]["core.v1.Pod"]["status"] == "any"


def test_the_three_typos_of_issue_9() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "imagePulPolicy": "Never",
                    "readinessprobe": {"exec": {"command": ["true"]}},
                    "env": [{"name": "A", "valeu": "1"}],
                }
            ]
        },
    }
    assert _paths("Pod", pod) == [
        ("spec.containers[0].imagePulPolicy", "imagePullPolicy"),
        ("spec.containers[0].readinessprobe", "readinessProbe"),
        ("spec.containers[0].env[0].valeu", "value"),
    ]


def test_nested_typo_in_a_deployment_pod_template() -> None:
    deployment = {
        "spec": {
            "template": {
                "metadata": {"lables": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "c", "livenessProbe": {"httpGet": {"port": 80, "pth": "/"}}}
                    ],
                    "volumes": [{"name": "v", "configMap": {"nmae": "x"}}],
                },
            }
        }
    }
    assert _paths("Deployment", deployment) == [
        ("spec.template.metadata.lables", "labels"),
        ("spec.template.spec.containers[0].livenessProbe.httpGet.pth", "path"),
        ("spec.template.spec.volumes[0].configMap.nmae", "name"),
    ]


def test_maps_status_and_wrong_shapes_are_not_walked() -> None:
    obj = {
        "metadata": {"labels": {"anything": "x"}, "annotations": {"a/b": "y"}},
        "data": {"whatever-key": "v"},
    }
    assert _paths("ConfigMap", obj) == []
    # status is the server's to fill, ignored on input; a ConfigMap has none, as in Kubernetes.
    assert _paths("Pod", {"status": {"made": {"up": 1}}}) == []
    assert _paths("ConfigMap", {"status": {}}) == [("status", None)]
    resources = {"limits": {"cpu": "1", "example.com/gpu": 1}, "requests": {"memory": "1Gi"}}
    pod = {"spec": {"containers": [{"resources": resources}], "nodeSelector": {"x": "y"}}}
    assert _paths("Pod", pod) == []
    # A string where a mapping belongs is the value rules' problem, not an unknown field.
    assert _paths("Pod", {"spec": {"containers": "oops"}, "metadata": ["x"]}) == []


def test_kinds_without_a_schema_have_no_unknown_fields() -> None:
    assert unknown_fields("HorizontalPodAutoscaler", {"spec": {"made-up": 1}}) == []


def test_unknown_field_messages() -> None:
    [close] = unknown_fields("Pod", {"spec": {"containers": [{"imagePulPolicy": "x"}]}})
    assert close.message("Pod") == 'unknown field "imagePulPolicy"; did you mean "imagePullPolicy"?'
    [few] = unknown_fields("Pod", {"spec": {"containers": [{"env": [{"zzzz": 1}]}]}})
    assert few.message("Pod") == (
        'unknown field "zzzz"; the fields of EnvVar are: name, value, valueFrom'
    )
    [many] = unknown_fields("Pod", {"spec": {"containers": [{"zzzz": 1}]}})
    assert many.message("Pod") == (
        'unknown field "zzzz"; `kubectl explain pod.spec.containers` lists the fields'
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("imagePulPolicy", "imagePullPolicy"),
        ("readinessprobe", "readinessProbe"),
        ("IMAGE", "image"),
        ("valeu", "value"),
        ("name", "secretName"),
        ("zzzz", None),
        ("", None),
    ],
)
def test_suggest(name: str, expected: str | None) -> None:
    candidates = ("image", "imagePullPolicy", "readinessProbe", "value", "secretName")
    assert suggest(name, candidates) == expected


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("Pod", "spec.containers[0].env[1].valeu", "pod.spec.containers.env"),
        ("Service", "spec.foo", "service.spec"),
        ("ConfigMap", "foo", "configmap"),
    ],
)
def test_explain_path(kind: str, path: str, expected: str) -> None:
    assert explain_path(kind, path) == expected


def _script() -> Any:
    """scripts/update-field-schemas as a module (it has no .py suffix: it is a command)."""
    import importlib.machinery
    import importlib.util
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    path = scripts / "update-field-schemas"
    import sys

    if str(scripts) not in sys.path:  # as when run: its directory holds kubeschemas.py
        sys.path.insert(0, str(scripts))
    loader = importlib.machinery.SourceFileLoader("update_field_schemas", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_script_resolves_refs_lists_maps_and_skips_status() -> None:
    ref = "#/$defs/"
    quantity = {"$ref": ref + "io.k8s.apimachinery.pkg.api.resource.Quantity"}
    spec = {"$ref": ref + "io.k8s.api.core.v1.ThingSpec"}
    definitions = {
        "io.k8s.api.core.v1.Thing": {
            "properties": {
                "spec": {"$ref": ref + "io.k8s.api.core.v1.ThingSpec"},
                "status": {"$ref": ref + "io.k8s.api.core.v1.ThingStatus"},
                "metadata": {"$ref": ref + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            }
        },
        "io.k8s.api.core.v1.ThingSpec": {
            "properties": {
                "items": {"type": ["array", "null"], "items": spec},
                "limits": {"type": "object", "additionalProperties": quantity},
                "port": {"$ref": ref + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
                "raw": {"x-kubernetes-preserve-unknown-fields": True},
                "when": {"$ref": ref + "io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
                "on": {"type": ["boolean", "null"]},
            }
        },
        "io.k8s.api.core.v1.ThingStatus": {"properties": {"phase": {"type": "string"}}},
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
            "properties": {"name": {"type": "string"}}
        },
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {
            "type": ["string", "null"],
            "format": "date-time",
        },
    }
    extractor = _script().Extractor(definitions)
    assert extractor.ref("io.k8s.api.core.v1.Thing", root=True) == "core.v1.Thing"
    assert extractor.types == {
        "core.v1.Thing": {
            "metadata": "meta.v1.ObjectMeta",
            "spec": "core.v1.ThingSpec",
            "status": "any",
        },
        "core.v1.ThingSpec": {
            "items": "[]core.v1.ThingSpec",
            "limits": "map[string]quantity",
            "on": "boolean",
            "port": "int-or-string",
            "raw": "any",
            "when": "string",
        },
        "meta.v1.ObjectMeta": {"name": "string"},
    }
