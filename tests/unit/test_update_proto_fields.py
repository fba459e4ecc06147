"""Tests of scripts/update-proto-fields (its proto and Go tag readers, on small inputs of the
official files' shape) and of the table it generated (data/protofields.json.gz)."""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from localsvc.model.kubeapi import protobuf
from localsvc.model.kubeapi.resources import RESOURCES

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "update-proto-fields"


@pytest.fixture(scope="module")
def generator() -> Any:
    """The script as a module (it has no .py suffix: it is a command)."""
    loader = importlib.machinery.SourceFileLoader("update_proto_fields", str(SCRIPT))
    spec = importlib.util.spec_from_loader("update_proto_fields", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


PROTO = """
/* licence */
syntax = "proto2";

package k8s.io.api.demo.v1;

import "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto";

// Package-wide variables from generator "generated".
option go_package = "k8s.io/api/demo/v1";

// Thing is a demo.
message Thing {
  // Standard object's metadata.
  // +optional
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;

  repeated string names = 3;

  map<string, bytes> data = 2;

  message Inner {
    optional int32 count = 1 [default = 0];
  }

  optional Inner inner = 4;
}
"""

GO = """
// Thing is a demo.
type Thing struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Names []string `json:"names" protobuf:"bytes,3,rep,name=names"`
	Data map[string][]byte `json:"data,omitempty" protobuf:"bytes,2,rep,name=data"`
	Inner *Inner `json:"inner,omitempty" protobuf:"bytes,4,opt,name=inner"`
	Source `json:",inline" protobuf:"bytes,5,opt,name=source"`
}

type Verbs []string
"""


def test_the_proto_reader_takes_messages_nested_messages_and_each_kind_of_field(
        generator: Any) -> None:
    package, messages = generator.parse_proto(PROTO, "demo.proto")
    assert package == "k8s.io.api.demo.v1"
    assert list(messages) == ["Thing", "Thing.Inner"]
    fields = [(f.number, f.name, f.type, f.cardinality) for f in messages["Thing"]]
    assert fields == [(1, "metadata", "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "one"),
                      (3, "names", "string", "list"), (2, "data", "bytes", "map:string"),
                      (4, "inner", "Inner", "one")]
    assert [(f.number, f.name) for f in messages["Thing.Inner"]] == [(1, "count")]


@pytest.mark.parametrize(("text", "message"), [
    ("message A { optional string a = 1;", "unclosed block"),
    ("message A { }}", "unbalanced"),
    ("optional string a = 1;", "outside a message"),
    ("message A { optional string = 1; }", "cannot read the field"),
])
def test_the_proto_reader_stops_on_what_it_cannot_read(generator: Any, text: str,
                                                       message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        generator.parse_proto(text, "bad.proto")


def test_the_go_reader_takes_json_names_omitempty_pointers_and_inline_structs(
        generator: Any) -> None:
    structs, slices = generator.parse_go(GO)
    thing = structs["Thing"]
    assert set(thing) == {"metadata", "names", "data", "inner", "source"}  # not TypeMeta
    assert (thing["metadata"].json_name, thing["metadata"].omitempty) == ("metadata", True)
    assert (thing["names"].omitempty, thing["names"].pointer) == (False, False)
    assert thing["inner"].pointer
    assert thing["source"].json_name == ""
    assert slices == {"Verbs"}


def test_type_names_resolve_in_their_package_or_fully_qualified(generator: Any) -> None:
    known = {"k8s.io.api.demo.v1.Thing", "k8s.io.api.demo.v1.Thing.Inner", "a.b.C"}
    assert generator.resolve("Thing", "k8s.io.api.demo.v1", known, "x") == \
        "k8s.io.api.demo.v1.Thing"
    assert generator.resolve(".a.b.C", "k8s.io.api.demo.v1", known, "x") == "a.b.C"
    assert generator.resolve("int64", "k8s.io.api.demo.v1", known, "x") == "int64"
    with pytest.raises(SystemExit, match="unknown type Nope"):
        generator.resolve("Nope", "k8s.io.api.demo.v1", known, "x")


# --- the generated table ---

NEXT_ISSUES = [("apps/v1", "StatefulSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
               ("v1", "PersistentVolumeClaim"), ("v1", "PersistentVolume"),
               ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass"),
               ("storage.k8s.io/v1", "StorageClass"), ("autoscaling/v1", "Scale"),
               ("v1", "DeleteOptions"), ("authentication.k8s.io/v1", "TokenRequest"),
               ("policy/v1", "PodDisruptionBudget"), ("policy/v1", "Eviction")]


@pytest.mark.parametrize(("api_version", "kind"), sorted(
    {(r.api_version, r.kind) for r in RESOURCES} | set(NEXT_ISSUES)))
def test_every_served_and_next_kind_has_its_message(api_version: str, kind: str) -> None:
    obj = protobuf.decode_request(b"k8s\x00" + _unknown(api_version, kind))
    assert obj["kind"] == kind and obj["apiVersion"] == api_version
    assert "metadata" in obj or kind == "DeleteOptions"


def _unknown(api_version: str, kind: str) -> bytes:
    def ld(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data
    return ld(1, ld(1, api_version.encode()) + ld(2, kind.encode()))


def test_the_table_is_small_and_every_field_type_is_known() -> None:
    assert protobuf.DATA_FILE.stat().st_size < 100_000  # gzip'd
    data = json.loads(gzip.decompress(protobuf.DATA_FILE.read_bytes()))
    scalars = {"string", "bytes", "bool", "int32", "int64", "double"}
    for name, rows in data["messages"].items():
        for number, _, type_name, cardinality, presence in rows:
            assert type_name in data["messages"] or type_name in scalars, (name, number)
            assert cardinality in ("one", "list") or cardinality.startswith("map:string:")
            assert presence in ("pointer", "omitempty", "always")
