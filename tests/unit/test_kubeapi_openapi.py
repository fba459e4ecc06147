"""The generated OpenAPI documents: complete for the served kinds (and the next issues'), in the API
server's spelling, every reference resolving, and named by the hash clients cache them by."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from localsvc.model.kubeapi import openapi
from localsvc.model.kubeapi.resources import RESOURCES

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
V3_PATHS = ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/discovery.k8s.io/v1",
            "apis/events.k8s.io/v1", "apis/storage.k8s.io/v1", "apis/networking.k8s.io/v1"]
NEXT_KINDS = {  # generated now, served by the next issues
    "apis/apps/v1": ["StatefulSet"],
    "api/v1": ["PersistentVolumeClaim", "PersistentVolume"],
    "apis/storage.k8s.io/v1": ["StorageClass"],
}


def v2() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi.openapi_v2())
    return document


def v3(path: str) -> dict[str, Any]:
    data = openapi.openapi_v3(path)
    assert data is not None, path
    document: dict[str, Any] = json.loads(data)
    return document


def stored_v3(path: str) -> dict[str, Any]:
    """A group-version document from the data, served or not."""
    document: dict[str, Any] = json.loads(
        gzip.decompress((openapi.DATA / openapi.v3_file_name(path)).read_bytes()))
    return document


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


def gvk_of(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(g["group"], g["version"], g["kind"])
            for g in schema.get("x-kubernetes-group-version-kind", [])]


def test_v2_is_swagger_with_every_served_kind_and_list() -> None:
    document = v2()
    assert document["swagger"] == "2.0"
    assert document["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    kinds = {gvk for schema in document["definitions"].values() for gvk in gvk_of(schema)}
    for resource in RESOURCES:
        assert (resource.group, resource.version, resource.kind) in kinds
        assert (resource.group, resource.version, resource.list_kind) in kinds
    assert ("autoscaling", "v1", "Scale") in kinds


def test_v2_covers_the_next_issues_kinds() -> None:
    definitions = v2()["definitions"]
    for name in (APPS + "StatefulSet", "io.k8s.api.batch.v1.Job", "io.k8s.api.batch.v1.CronJob",
                 CORE + "PersistentVolumeClaim", CORE + "PersistentVolume",
                 "io.k8s.api.networking.v1.Ingress", "io.k8s.api.networking.v1.IngressClass",
                 "io.k8s.api.storage.v1.StorageClass"):
        assert name in definitions


@pytest.mark.parametrize(("name", "prefix"), [("v2", "#/definitions/")] + [
    (path, "#/components/schemas/") for path in V3_PATHS])
def test_every_reference_resolves_in_its_document(name: str, prefix: str) -> None:
    document = v2() if name == "v2" else v3(name)
    schemas = document["definitions"] if name == "v2" else document["components"]["schemas"]
    refs = [node["$ref"] for node in walk(document) if "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith(prefix), ref
        assert ref[len(prefix):] in schemas, ref


@pytest.mark.parametrize("name", ["v2", *V3_PATHS])
def test_types_are_the_api_servers_spelling(name: str) -> None:
    document = v2() if name == "v2" else v3(name)
    for node in walk(document):
        if "type" in node and not isinstance(node.get("type"), dict):
            assert isinstance(node["type"], str), node  # ["string", "null"] -> "string"
    assert "$defs" not in json.dumps(document)


def test_descriptions_and_patch_extensions_are_kept() -> None:
    definitions = v2()["definitions"]
    replicas = definitions[APPS + "DeploymentSpec"]["properties"]["replicas"]
    assert replicas["type"] == "integer" and replicas["format"] == "int32"
    assert replicas["description"].startswith("Number of desired pods.")
    containers = definitions[CORE + "PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    template = definitions[APPS + "DeploymentSpec"]["properties"]["template"]
    assert template["$ref"] == "#/definitions/" + CORE + "PodTemplateSpec"  # v2: sibling kept
    assert template["description"].startswith("Template describes the pods")


def test_the_schema_packages_enum_on_api_version_and_kind_is_dropped() -> None:
    for schema in v2()["definitions"].values():
        if gvk_of(schema):
            for field in ("apiVersion", "kind"):
                assert "enum" not in schema["properties"].get(field, {})
    kind = v2()["definitions"][APPS + "Deployment"]["properties"]["kind"]
    assert kind["type"] == "string" and kind["description"].startswith("Kind is a string")


def test_int_or_string_and_quantity() -> None:
    intstr = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
    definitions = v2()["definitions"]
    assert (definitions[intstr]["type"], definitions[intstr]["format"]) == ("string",
                                                                            "int-or-string")
    assert definitions[quantity]["type"] == "string"
    schemas = v3("api/v1")["components"]["schemas"]
    assert schemas[intstr]["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "type" not in schemas[quantity] and len(schemas[quantity]["oneOf"]) == 2


def test_v3_wraps_described_references_in_all_of() -> None:
    spec = v3("apis/apps/v1")["components"]["schemas"][APPS + "DeploymentSpec"]
    template = spec["properties"]["template"]
    assert template["allOf"] == [{"$ref": "#/components/schemas/" + CORE + "PodTemplateSpec"}]
    assert "$ref" not in template and template["description"].startswith("Template describes")


def test_v3_index_lists_the_served_group_versions_by_hash() -> None:
    index = openapi.openapi_v3_index()
    assert list(index["paths"]) == V3_PATHS
    for path, entry in index["paths"].items():
        data = openapi.openapi_v3(path)
        assert data is not None
        digest = hashlib.sha512(data).hexdigest().upper()
        assert entry["serverRelativeURL"] == f"/openapi/v3/{path}?hash={digest}"
        assert openapi.openapi_v3_hash(path) == digest


def test_v3_documents_hold_their_group_versions_kinds() -> None:
    for path in V3_PATHS:
        document = v3(path)
        assert document["openapi"] == "3.0.0"
        kinds = {gvk for s in document["components"]["schemas"].values() for gvk in gvk_of(s)}
        for resource in RESOURCES:
            if openapi.group_version_path(resource.group, resource.version) == path:
                assert (resource.group, resource.version, resource.kind) in kinds


def test_the_next_issues_group_versions_are_generated_not_served() -> None:
    for path, kinds in NEXT_KINDS.items():
        schemas = stored_v3(path)["components"]["schemas"]
        names = {gvk[2] for s in schemas.values() for gvk in gvk_of(s)}
        assert set(kinds) <= names, path
    assert openapi.openapi_v3("apis/policy/v1") is None
    assert openapi.openapi_v3_hash("apis/policy/v1") is None
    assert openapi.openapi_v3("apis/nothing/v1") is None


def test_v3_accepts_the_request_path_forms() -> None:
    assert openapi.openapi_v3("/openapi/v3/apis/apps/v1") == openapi.openapi_v3("apis/apps/v1")
    assert openapi.openapi_v3("/api/v1") == openapi.openapi_v3("api/v1")


def _patch_operation(document: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in document["paths"].values():
        patch = item.get("patch")
        if patch and patch["x-kubernetes-group-version-kind"]["kind"] == kind and \
                patch["x-kubernetes-action"] == "patch":
            return dict(patch)
    raise AssertionError(f"no PATCH operation for {kind}")


@pytest.mark.parametrize("resource", [r for r in RESOURCES if "patch" in r.verbs],
                         ids=lambda r: f"{r.group_version}/{r.plural}")
def test_v3_paths_let_kubectl_leave_validation_and_dry_runs_to_the_server(resource: Any) -> None:
    document = v3(openapi.group_version_path(resource.group, resource.version))
    patch = _patch_operation(document, resource.kind)
    query = {p["name"] for p in patch["parameters"] if p["in"] == "query"}
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= query
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]


def test_v3_paths_of_a_namespaced_and_a_cluster_resource() -> None:
    paths = v3("apis/apps/v1")["paths"]
    collection = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert {"get", "post", "delete"} <= set(collection)
    assert collection["get"]["x-kubernetes-action"] == "list"
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling", "version": "v1", "kind": "Scale"}
    core = v3("api/v1")["paths"]
    assert "/api/v1/namespaces/{name}" in core and "/api/v1/nodes/{name}/status" in core
    assert "delete" not in core["/api/v1/namespaces"]  # no deletecollection of namespaces


NOW = datetime(2026, 12, 7, 6, 0, 0, tzinfo=timezone.utc)
KUBECTL_V2_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def test_v2_answer_is_json_or_not_acceptable() -> None:
    data = openapi.openapi_v2()
    digest = openapi.openapi_v2_hash()
    assert digest == hashlib.sha512(data).hexdigest().upper()
    answer = openapi.answer_v2("application/json")
    assert (answer.status, answer.body) == (200, data)
    assert answer.headers == {"Content-Type": "application/json", "ETag": f'"{digest}"'}
    assert openapi.answer_v2(None).status == 200
    # kubectl asks for protobuf only, and gets it.
    protobuf = openapi.answer_v2(KUBECTL_V2_ACCEPT)
    assert (protobuf.status, protobuf.body) == (200, openapi.openapi_v2_protobuf())
    assert protobuf.headers["Content-Type"] == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    assert protobuf.headers["ETag"] == openapi.etag(openapi.openapi_v2_protobuf())
    preferred = openapi.answer_v2(KUBECTL_V2_ACCEPT + ";q=0.5,application/json")
    assert preferred.headers["Content-Type"] == "application/json"
    assert openapi.answer_v2("text/html") == openapi.NOT_ACCEPTABLE


def test_if_none_match_with_the_current_etag_is_not_modified() -> None:
    current = openapi.answer_v2("*/*").headers["ETag"]
    unchanged = openapi.answer_v2("*/*", if_none_match=f'"other", {current}')
    assert (unchanged.status, unchanged.body) == (304, b"")
    assert unchanged.headers["ETag"] == current
    assert openapi.answer_v2("*/*", if_none_match='"other"').status == 200
    index = openapi.answer_v3_index()
    assert index.status == 200 and json.loads(index.body) == openapi.openapi_v3_index()
    assert openapi.answer_v3_index(index.headers["ETag"]).status == 304


def test_v3_answer_with_the_current_hash_is_immutable_for_a_year() -> None:
    digest = openapi.openapi_v3_hash("apis/apps/v1")
    answer = openapi.answer_v3("/openapi/v3/apis/apps/v1", "application/json", digest, NOW)
    assert answer.status == 200 and answer.body == openapi.openapi_v3("apis/apps/v1")
    assert answer.headers == {
        "Content-Type": "application/json", "ETag": f'"{digest}"', "Vary": "Accept",
        "Cache-Control": "public, immutable", "Expires": "Tue, 07 Dec 2027 06:00:00 GMT"}


def test_v3_answer_without_a_hash_is_not_cacheable_for_good() -> None:
    answer = openapi.answer_v3("apis/apps/v1", "*/*", None, NOW)
    assert answer.status == 200 and "Cache-Control" not in answer.headers


def test_v3_answer_to_a_stale_hash_redirects_to_the_current_document() -> None:
    digest = openapi.openapi_v3_hash("api/v1")
    answer = openapi.answer_v3("api/v1", "application/json", "0" * 128, NOW)
    assert (answer.status, answer.body) == (301, b"")
    assert answer.headers["Location"] == f"/openapi/v3/api/v1?hash={digest}"


def test_v3_answer_refusals() -> None:
    assert openapi.answer_v3("apis/policy/v1", "*/*", None, NOW) == openapi.NOT_FOUND
    assert openapi.answer_v3(
        "api/v1", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf", None, NOW,
    ) == openapi.NOT_ACCEPTABLE


def test_a_leap_day_expires_on_the_first_of_march() -> None:
    digest = openapi.openapi_v3_hash("api/v1")
    leap = datetime(2028, 2, 29, 12, 0, 0, tzinfo=timezone.utc)
    answer = openapi.answer_v3("api/v1", None, digest, leap)
    assert answer.headers["Expires"] == "Thu, 01 Mar 2029 12:00:00 GMT"


def test_documents_are_read_once() -> None:
    assert openapi.openapi_v2() is openapi.openapi_v2()
    assert openapi.openapi_v3("api/v1") is openapi.openapi_v3("api/v1")


def test_data_files_stay_small() -> None:
    for path in openapi.DATA.glob("openapi*.json.gz"):
        assert path.stat().st_size < 150_000, path.name


# --- the generator's rules (scripts/update-openapi), on a small schema of its input's shape -----


def _generator() -> Any:
    import importlib.machinery
    import importlib.util
    import sys

    scripts = openapi.DATA.parents[2] / "scripts"
    sys.path.insert(0, str(scripts))  # it imports kubeschemas from its own directory
    try:
        loader = importlib.machinery.SourceFileLoader("update_openapi",
                                                      str(scripts / "update-openapi"))
        spec = importlib.util.spec_from_loader("update_openapi", loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    finally:
        sys.path.remove(str(scripts))
    return module


SOURCE = {  # the kubernetes-validate $defs spelling
    "io.k8s.api.core.v1.Thing": {
        "type": ["object", "null"],
        "properties": {
            "apiVersion": {"type": ["string", "null"], "enum": ["v1"]},
            "kind": {"type": ["string", "null"], "enum": ["Thing"]},
            "spec": {"$ref": "#/$defs/io.k8s.api.core.v1.ThingSpec", "description": "The spec."},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Thing"}],
    },
    "io.k8s.api.core.v1.ThingSpec": {
        "type": ["object", "null"],
        "properties": {
            "port": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
            "items": {"type": ["array", "null"], "items": {"type": ["string", "null"]},
                      "x-kubernetes-list-type": "set"},
            "mode": {"type": ["string", "null"], "enum": ["A", "B"]},
        },
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]},
    "io.k8s.api.core.v1.Unrelated": {"type": ["object", "null"]},
}


def test_generator_keeps_only_what_the_roots_reach() -> None:
    generator = _generator()
    assert generator.reachable(SOURCE, ["io.k8s.api.core.v1.Thing"]) == [
        "io.k8s.api.core.v1.Thing", "io.k8s.api.core.v1.ThingSpec",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    with pytest.raises(SystemExit, match="no definition io.k8s.api.core.v1.Missing"):
        generator.reachable(SOURCE, ["io.k8s.api.core.v1.Missing"])


def test_generator_v2_spelling() -> None:
    generator = _generator()
    schemas = generator.schemas(SOURCE, ["io.k8s.api.core.v1.Thing"], "#/definitions/", v3=False)
    thing = schemas["io.k8s.api.core.v1.Thing"]
    assert thing["type"] == "object"
    assert thing["properties"]["apiVersion"] == {"type": "string"}  # the package's enum dropped
    assert thing["properties"]["spec"] == {"$ref": "#/definitions/io.k8s.api.core.v1.ThingSpec",
                                          "description": "The spec."}
    spec = schemas["io.k8s.api.core.v1.ThingSpec"]["properties"]
    assert spec["items"] == {"type": "array", "items": {"type": "string"},
                             "x-kubernetes-list-type": "set"}
    assert spec["mode"]["enum"] == ["A", "B"]  # a field's own enum stays
    intstr = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (intstr["type"], intstr["format"]) == ("string", "int-or-string")


def test_generator_v3_spelling() -> None:
    generator = _generator()
    prefix = "#/components/schemas/"
    schemas = generator.schemas(SOURCE, ["io.k8s.api.core.v1.Thing"], prefix, v3=True)
    spec_ref = schemas["io.k8s.api.core.v1.Thing"]["properties"]["spec"]
    assert spec_ref == {"allOf": [{"$ref": prefix + "io.k8s.api.core.v1.ThingSpec"}],
                        "description": "The spec."}
    port = schemas["io.k8s.api.core.v1.ThingSpec"]["properties"]["port"]
    assert port == {"$ref": prefix + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    intstr = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert intstr["oneOf"] == [{"type": "integer"}, {"type": "string"}] and "type" not in intstr


def test_generator_names_definitions_and_paths() -> None:
    generator = _generator()
    definition_name = generator.kubeschemas.definition_name  # shared with update-field-schemas
    assert definition_name("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert definition_name("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert definition_name("discovery.k8s.io", "v1", "EndpointSlice") == (
        "io.k8s.api.discovery.v1.EndpointSlice")
    assert definition_name("networking.k8s.io", "v1", "Ingress") == (
        "io.k8s.api.networking.v1.Ingress")
    assert generator.gv_path("", "v1") == "api/v1"
    assert generator.gv_path("apps", "v1") == "apis/apps/v1"


def _proto_encoder() -> Any:
    import importlib.util

    path = openapi.DATA.parents[2] / "scripts" / "openapiv2proto.py"
    spec = importlib.util.spec_from_file_location("openapiv2proto", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_v2_protobuf_encoding_of_a_schema() -> None:
    encoder = _proto_encoder()
    assert encoder._varint(300) == b"\xac\x02"
    # Schema{description = 4: "d", type = 22: TypeItem{value = 1: "string"}}
    assert encoder.schema({"description": "d", "type": "string"}) == (
        b"\x22\x01d" + b"\xb2\x01\x08\x0a\x06string")
    # A vendor extension: NamedAny{name, Any{yaml = 2}} as field 31.
    assert encoder.schema({"x-kubernetes-map-type": "atomic"}) == (
        b"\xfa\x01\x23" + b"\x0a\x15x-kubernetes-map-type" + b"\x12\x0a\x12\x08\"atomic\"")
    with pytest.raises(ValueError, match="oneOf"):
        encoder.schema({"oneOf": []})


def test_v2_protobuf_data_is_the_json_documents_encoding() -> None:
    encoder = _proto_encoder()
    assert encoder.document(v2()) == openapi.openapi_v2_protobuf()
