"""Tests of localsvc.model.kubeapi.protobuf and protowire: Kubernetes protobuf request bodies
decoded into the JSON the client would have sent. The bodies are built here with a few lines
of protobuf encoding (tests/net/test_kubectl_protobuf.py decodes the real kubectl's)."""

from __future__ import annotations

import base64
import struct

import pytest

from localsvc.model.kubeapi.protobuf import (
    ProtobufError,
    decode_message,
    decode_request,
    go_duration,
    is_protobuf,
)
from localsvc.model.kubeapi.protowire import fields, packed, read_varint, scalar

CORE = "k8s.io.api.core.v1"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"


# --- a minimal encoder, for the fixtures ---

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers: two's complement on 64 bits, as protobuf does
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def vint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return ld(number, ld(1, key) + ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "",
             content_type: str = "") -> bytes:
    # gogo-protobuf writes the empty strings too, as kubectl's bodies show
    return (b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)
            + ld(3, encoding) + ld(4, content_type))


EMPTY_META = ld(1, "") + ld(3, "") + ld(8, b"")  # what gogo writes for an unset ObjectMeta


# --- the wire format ---

def test_varints_of_one_to_ten_bytes() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1):
        assert read_varint(varint(value) + b"\xff", 0) == (value, len(varint(value)))


def test_a_cut_varint_and_an_eleven_byte_varint_are_errors() -> None:
    with pytest.raises(ProtobufError, match="cut short at byte 2"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtobufError, match="longer than 10 bytes"):
        read_varint(b"\x80" * 11 + b"\x01", 0)


def test_fields_of_each_wire_type() -> None:
    data = (vint(1, 150) + ld(2, "hi") + varint(3 << 3 | 1) + (7).to_bytes(8, "little")
            + varint(4 << 3 | 5) + (9).to_bytes(4, "little"))
    assert list(fields(data)) == [(1, 0, 150), (2, 2, b"hi"), (3, 1, 7), (4, 5, 9)]


@pytest.mark.parametrize(("data", "message"), [
    (varint(1 << 3 | 3), r"invalid field tag 11 \(field 1, wire type 3\) at byte 0"),
    (varint(0 << 3 | 0) + b"\x00", r"invalid field tag 0 \(field 0"),
    (varint(2 << 3 | 2) + varint(5) + b"abc", "field 2 at byte 0 claims 5 bytes, 3 remain"),
    (varint(3 << 3 | 1) + b"\x00" * 7, "field 3 at byte 0 is cut short"),
    (varint(3 << 3 | 5) + b"\x00" * 3, "field 3 at byte 0 is cut short"),
])
def test_malformed_messages_are_errors_naming_the_byte(data: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        list(fields(data))


def test_scalars_from_their_wire_values() -> None:
    assert scalar("int32", (1 << 64) - 1) == -1  # a negative int32 is sign-extended
    assert scalar("int64", (1 << 64) - 5) == -5
    assert scalar("uint32", 2**32 + 3) == 3
    assert scalar("sint64", 3) == -2 and scalar("sint32", 4) == 2  # zigzag
    assert scalar("bool", 2) is True and scalar("bool", 0) is False
    assert scalar("double", int.from_bytes(struct.pack("<d", 1.5), "little")) == 1.5
    assert scalar("float", int.from_bytes(struct.pack("<f", -0.25), "little")) == -0.25
    with pytest.raises(ProtobufError, match="string is not a numeric"):
        scalar("string", 1)


def test_packed_repeated_numbers() -> None:
    assert packed("int64", varint(1) + varint(300) + varint(-2)) == [1, 300, -2]
    assert packed("fixed32", (5).to_bytes(4, "little") + (6).to_bytes(4, "little")) == [5, 6]
    with pytest.raises(ProtobufError, match="packed fixed32 list is cut short"):
        packed("fixed32", b"\x00\x00")


# --- the envelope ---

def test_is_protobuf_reads_the_media_type_only() -> None:
    assert is_protobuf("application/vnd.kubernetes.protobuf")
    assert is_protobuf("Application/VND.kubernetes.protobuf; charset=binary")
    assert not is_protobuf("application/json")
    assert not is_protobuf("application/vnd.kubernetes.protobuf+json")
    assert not is_protobuf(None) and not is_protobuf("")


def test_api_version_and_kind_come_from_the_envelope_first() -> None:
    raw = ld(1, ld(1, "x") + ld(3, "ns") + ld(8, b"")) + entry(2, "a", "b")
    obj = decode_request(envelope("v1", "ConfigMap", raw))
    assert list(obj) == ["kind", "apiVersion", "metadata", "data"]
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "x", "namespace": "ns", "creationTimestamp": None},
                   "data": {"a": "b"}}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"kind": "ConfigMap"}', r"does not start with the Kubernetes protobuf prefix"),
    (b"k8s\x00" + ld(2, b""), "names no kind"),
    (envelope("v1", "ConfigMap", b"", encoding="gzip"), "unsupported contentEncoding 'gzip'"),
    (envelope("v1", "ConfigMap", b"{}", content_type="application/json"),
     "'application/json', not application/vnd.kubernetes.protobuf"),
    (envelope("example.com/v1", "Widget", b""),
     "no protobuf schema for kind 'Widget' of apiVersion 'example.com/v1'"),
    (b"k8s\x00" + varint(1 << 3 | 2) + varint(9), r"the envelope \(runtime.Unknown\): field 1"),
])
def test_bodies_that_are_not_kubernetes_protobuf(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        decode_request(body)


def test_delete_options_are_found_in_meta_whatever_the_group() -> None:
    body = envelope("apps/v1", "DeleteOptions", vint(1, 0) + ld(4, "Foreground"))
    assert decode_request(body) == {"kind": "DeleteOptions", "apiVersion": "apps/v1",
                                    "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}


# --- encoding/json's rules ---

def test_omitempty_zero_values_are_dropped_and_pointers_kept_even_when_zero() -> None:
    # replicas is a *int32 (0 is kept); minReadySeconds an omitempty int32 (0 dropped); paused
    # an omitempty bool; strategy a struct (never omitted)
    spec = vint(1, 0) + vint(5, 0) + vint(7, 0) + ld(4, ld(1, ""))
    assert decode_message("k8s.io.api.apps.v1.DeploymentSpec", spec) == {
        "replicas": 0, "template": {"metadata": {"creationTimestamp": None}, "spec": {
            "containers": None}}, "strategy": {}}


def test_fields_without_omitempty_get_their_zero_values_when_absent() -> None:
    assert decode_message(f"{CORE}.ServicePort", b"") == {"port": 0, "targetPort": 0}
    # resources is a struct: encoding/json writes it even empty, as kubectl's JSON shows
    assert decode_message(f"{CORE}.Container", b"") == {"name": "", "resources": {}}
    assert decode_message(f"{CORE}.PodSpec", b"") == {"containers": None}  # a nil slice


def test_inline_structs_are_spliced_into_their_parent() -> None:
    volume = ld(1, "cache") + ld(2, ld(2, ld(1, "Memory") + ld(2, ld(1, "64Mi"))))
    assert decode_message(f"{CORE}.Volume", volume) == {
        "name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    probe = ld(1, ld(1, ld(1, "cat") + ld(1, "/tmp/ready"))) + vint(4, 5)
    assert decode_message(f"{CORE}.Probe", probe) == {
        "exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 5}


def test_unknown_field_numbers_are_skipped_whatever_their_wire_type() -> None:
    data = ld(1, "c") + vint(99, 7) + ld(98, "x") + varint(97 << 3 | 5) + b"\x00" * 4
    assert decode_message(f"{CORE}.Container", data) == {"name": "c", "resources": {}}


def test_repeated_messages_and_scalars_keep_their_order() -> None:
    container = (ld(1, "web") + ld(3, "sh") + ld(3, "-c")
                 + ld(6, vint(3, 80) + ld(4, "TCP")) + ld(6, vint(3, 443) + ld(4, "TCP"))
                 + ld(7, ld(1, "X") + ld(2, "1")))
    assert decode_message(f"{CORE}.Container", container) == {
        "name": "web", "command": ["sh", "-c"],
        "ports": [{"containerPort": 80, "protocol": "TCP"},
                  {"containerPort": 443, "protocol": "TCP"}],
        "env": [{"name": "X", "value": "1"}], "resources": {}}


def test_packed_numbers_of_a_repeated_field() -> None:
    context = ld(4, varint(1000) + varint(2000))  # supplementalGroups, packed
    assert decode_message(f"{CORE}.PodSecurityContext", context) == {
        "supplementalGroups": [1000, 2000]}


def test_maps_of_strings_of_bytes_and_of_quantities() -> None:
    secret = (ld(1, EMPTY_META) + entry(2, "k", b"\x00\xffv") + entry(4, "plain", "text")
              + ld(3, "Opaque"))
    assert decode_message(f"{CORE}.Secret", secret) == {
        "metadata": {"creationTimestamp": None},
        "data": {"k": base64.b64encode(b"\x00\xffv").decode()}, "stringData": {"plain": "text"},
        "type": "Opaque"}
    resources = ld(1, ld(1, "cpu") + ld(2, ld(1, "500m"))) + ld(2, ld(1, "memory"))
    assert decode_message(f"{CORE}.ResourceRequirements", resources) == {
        "limits": {"cpu": "500m"}, "requests": {"memory": "0"}}  # no value: the zero Quantity


def test_a_map_entry_without_a_key_has_the_empty_key() -> None:
    assert decode_message(f"{META}.LabelSelector", ld(1, ld(2, "v"))) == {"matchLabels": {"": "v"}}


def test_a_field_of_the_wrong_wire_type_names_its_path() -> None:
    pod = ld(2, ld(2, ld(1, "web") + vint(2, 5)))  # spec.containers[0].image as a varint
    with pytest.raises(ProtobufError, match=r"^spec\.containers\[0\]\.image: wire type 0 for a "
                                            r"string, expected 2$"):
        decode_request(envelope("v1", "Pod", pod))


def test_a_string_that_is_not_utf8_names_its_path() -> None:
    with pytest.raises(ProtobufError, match=r"^metadata\.name: a string that is not UTF-8"):
        decode_request(envelope("v1", "ConfigMap", ld(1, ld(1, b"\xff"))))


def test_a_cut_nested_message_names_its_path() -> None:
    with pytest.raises(ProtobufError, match=r"^metadata: field 1 at byte 0 claims 9 bytes"):
        decode_request(envelope("v1", "ConfigMap", ld(1, varint(1 << 3 | 2) + varint(9))))


# --- the special types ---

def test_time_is_rfc3339_in_whole_seconds_and_null_when_zero() -> None:
    meta = ld(1, "x") + ld(8, vint(1, 1_714_564_800) + vint(2, 999_999_999))
    assert decode_message(f"{META}.ObjectMeta", meta) == {
        "name": "x", "creationTimestamp": "2024-05-01T12:00:00Z"}
    assert decode_message(f"{META}.Time", b"") is None
    assert decode_message(f"{META}.Time", vint(1, -62135596800)) == "0001-01-01T00:00:00Z"
    with pytest.raises(ProtobufError, match="out of range"):
        decode_message(f"{META}.Time", vint(1, 2**62))


def test_micro_time_keeps_microseconds() -> None:
    event = ld(1, EMPTY_META) + ld(2, vint(1, 1_714_564_800) + vint(2, 123_456_789))
    decoded = decode_message("k8s.io.api.events.v1.Event", event)
    assert decoded["eventTime"] == "2024-05-01T12:00:00.123456Z"
    assert decoded["deprecatedFirstTimestamp"] is None  # a non-pointer Time left unset
    assert decode_message(f"{META}.MicroTime", b"") is None


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (0, "0s"), (1, "1ns"), (1_500, "1.5µs"), (2_000_000, "2ms"), (1_500_000_000, "1.5s"),
    (60 * 10**9, "1m0s"), (3600 * 10**9, "1h0m0s"), (3723 * 10**9 + 5 * 10**8, "1h2m3.5s"),
    (-90 * 10**9, "-1m30s"), (100 * 3600 * 10**9 + 1, "100h0m0.000000001s"),
])
def test_durations_are_go_duration_strings(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text
    assert decode_message(f"{META}.Duration", vint(1, nanoseconds)) == text


def test_int_or_string() -> None:
    name = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
    assert decode_message(name, vint(1, 0) + vint(2, 8080) + ld(3, "")) == 8080
    assert decode_message(name, vint(1, 1) + vint(2, 0) + ld(3, "http")) == "http"
    assert decode_message(name, vint(2, -1)) == -1
    assert decode_message(name, b"") == 0


def test_quantity_is_its_string_and_zero_is_0() -> None:
    name = "k8s.io.apimachinery.pkg.api.resource.Quantity"
    assert decode_message(name, ld(1, "1Gi")) == "1Gi"
    assert decode_message(name, b"") == "0"


def test_raw_extension_and_fields_v1_are_their_embedded_json() -> None:
    revision = ld(1, EMPTY_META) + ld(2, ld(1, b'{"spec": {"replicas": 2}}')) + vint(3, 4)
    assert decode_request(envelope("apps/v1", "ControllerRevision", revision)) == {
        "kind": "ControllerRevision", "apiVersion": "apps/v1",
        "metadata": {"creationTimestamp": None}, "data": {"spec": {"replicas": 2}},
        "revision": 4}
    managed = ld(1, "kubectl") + ld(2, "Apply") + ld(6, "FieldsV1") + ld(7, ld(1, b'{"f:data":{}}'))
    assert decode_message(f"{META}.ManagedFieldsEntry", managed) == {
        "manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {}}}
    assert decode_message("k8s.io.apimachinery.pkg.runtime.RawExtension", b"") is None
    with pytest.raises(ProtobufError, match=r"^data: the embedded object is not JSON"):
        decode_message("k8s.io.api.apps.v1.ControllerRevision", ld(2, ld(1, b"k8s\x00...")))


def test_a_go_slice_message_is_its_items() -> None:
    resource = ld(1, "pods") + ld(4, ld(1, "get") + ld(1, "list"))
    assert decode_message(f"{META}.APIResource", resource)["verbs"] == ["get", "list"]
    assert decode_message(f"{META}.APIResource", ld(1, "pods"))["verbs"] is None


def test_map_values_that_are_go_slices_are_lists() -> None:
    user = ld(1, "alice") + ld(4, ld(1, "scopes") + ld(2, ld(1, "a") + ld(1, "b")))
    assert decode_message("k8s.io.api.authentication.v1.UserInfo", user) == {
        "username": "alice", "extra": {"scopes": ["a", "b"]}}
