"""Kubernetes protobuf request bodies, decoded into the JSON object the client would have sent.

kubectl's typed clients (create configmap/secret/deployment/service/job..., run) POST their
objects as `application/vnd.kubernetes.protobuf`: the 4 bytes `k8s\\x00`, then a
runtime.Unknown envelope {typeMeta {apiVersion, kind}, raw, contentEncoding, contentType} whose
`raw` is the object's message. `data/protofields.json.gz` (scripts/update-proto-fields) gives
each message's fields: number, JSON name, type, and how Go's encoding/json writes the field.

The JSON is what encoding/json makes of the Go object the API server would decode: gogo-protobuf
writes every non-pointer field, so `omitempty` zero values are dropped again; non-pointer
structs are always there (`status: {}`, `creationTimestamp: null`); slices and maps without
`omitempty` are null when absent; `json:",inline"` structs (a Volume's source, a Probe's
handler) are spliced into their parent. Special types take their JSON forms: Time and MicroTime
RFC 3339, Duration Go's "1h2m3s", IntOrString an int or a string, Quantity a string,
RawExtension and FieldsV1 their embedded JSON, bytes base64. Unknown field numbers are skipped.
Pure, apart from reading the packaged data file once.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Callable

from localsvc.model.kubeapi.protowire import (
    LENGTH_DELIMITED,
    SCALAR_WIRE_TYPES,
    ProtobufError,
    fields,
    packed,
    scalar,
)

__all__ = ["CONTENT_TYPE", "MAGIC", "ProtobufError", "decode_message", "decode_request",
           "is_protobuf"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
DATA_FILE = Path(__file__).parent.parent / "data" / "protofields.json.gz"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"


@dataclass(frozen=True)
class Field:
    number: int
    json_name: str  # "" for an inline struct
    type: str  # a protobuf scalar type, or a message's full name
    cardinality: str  # "one", "list" or "map"
    key_type: str  # a map's key type, else ""
    presence: str  # "pointer", "omitempty" or "always" (see the module docstring)


@dataclass(frozen=True)
class _Table:
    packages: dict[str, str]  # apiVersion -> protobuf package
    messages: dict[str, tuple[Field, ...]]  # in the Go struct's order
    numbers: dict[str, dict[int, Field]]
    lists: frozenset[str]  # messages that are Go slices (meta.v1.Verbs): JSON is their items


@cache
def _table() -> _Table:
    data = json.loads(gzip.decompress(DATA_FILE.read_bytes()))
    messages: dict[str, tuple[Field, ...]] = {}
    for name, rows in data["messages"].items():
        row_fields = []
        for number, json_name, type_name, cardinality, presence in rows:
            key_type = cardinality.split(":")[1] if cardinality.startswith("map:") else ""
            row_fields.append(Field(number, json_name, type_name, cardinality.split(":")[0],
                                    key_type, presence))
        messages[name] = tuple(row_fields)
    numbers = {name: {f.number: f for f in row} for name, row in messages.items()}
    return _Table(data["packages"], messages, numbers, frozenset(data["lists"]))


def is_protobuf(content_type: str | None) -> bool:
    """Whether a Content-Type header names Kubernetes protobuf (parameters aside)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE


def decode_request(body: bytes) -> dict[str, Any]:
    """The JSON object of a protobuf request body, with apiVersion and kind from its envelope.
    Raises ProtobufError for a body that is not Kubernetes protobuf or names an unknown kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix "
                            "k8s\\x00")
    api_version, kind, raw = _envelope(body[len(MAGIC):])
    if not kind:
        raise ProtobufError("the protobuf envelope (runtime.Unknown) names no kind")
    message = _message_of(api_version, kind)
    decoded = decode_message(message, raw)
    obj: dict[str, Any] = {"kind": kind}
    if api_version:
        obj["apiVersion"] = api_version
    obj.update(decoded)
    return obj


def _envelope(data: bytes) -> tuple[str, str, bytes]:
    """runtime.Unknown: typeMeta (1: apiVersion, 2: kind), raw (2), contentEncoding (3),
    contentType (4)."""
    api_version = kind = content_encoding = content_type = ""
    raw = b""
    for number, wire_type, value in _fields_at(data, "the envelope (runtime.Unknown)"):
        if wire_type != LENGTH_DELIMITED or not isinstance(value, bytes):
            continue
        if number == 1:
            for meta_number, _, meta_value in _fields_at(value, "runtime.Unknown.typeMeta"):
                if meta_number in (1, 2) and isinstance(meta_value, bytes):
                    text = _text(meta_value, "runtime.Unknown.typeMeta")
                    api_version, kind = (text, kind) if meta_number == 1 else (api_version, text)
        elif number == 2:
            raw = value
        elif number == 3:
            content_encoding = _text(value, "runtime.Unknown.contentEncoding")
        elif number == 4:
            content_type = _text(value, "runtime.Unknown.contentType")
    if content_encoding:
        raise ProtobufError(f"unsupported contentEncoding {content_encoding!r} in the envelope")
    if content_type and not is_protobuf(content_type):
        raise ProtobufError(f"the envelope's object is {content_type!r}, not {CONTENT_TYPE}")
    return api_version, kind, raw


def _message_of(api_version: str, kind: str) -> str:
    table = _table()
    package = table.packages.get(api_version)
    candidates = [f"{package}.{kind}"] if package else []
    candidates.append(f"{_META}.{kind}")  # DeleteOptions and the like, sent in any group
    for name in candidates:
        if name in table.messages:
            return name
    raise ProtobufError(f"no protobuf schema for kind {kind!r} of apiVersion {api_version!r}; "
                        "send it as application/json")


def decode_message(message: str, data: bytes, path: str = "") -> Any:
    """The JSON value of one message of the table (by its full protobuf name). The messages
    of the table do not contain themselves, so the recursion is as deep as their nesting."""
    special = _SPECIAL.get(message)
    if special is not None:
        return special(data, path or message)
    table = _table()
    if message not in table.messages:
        raise ProtobufError(f"{path or 'the object'}: no protobuf schema for {message}")
    numbers = table.numbers[message]
    values: dict[int, Any] = {}
    for number, wire_type, raw in _fields_at(data, path):
        field = numbers.get(number)
        if field is not None:
            _collect(field, wire_type, raw, values, _join(path, field.json_name or str(number)))
    if message in table.lists:  # a nil slice is an absent message, null in JSON
        return values.get(1, []) if data else None
    obj: dict[str, Any] = {}
    for field in table.messages[message]:
        _emit(field, values, obj, _join(path, field.json_name))
    return obj


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


def _fields_at(data: bytes, path: str) -> list[tuple[int, int, int | bytes]]:
    """The fields of one message; a wire error names the message's path in the object."""
    try:
        return list(fields(data))
    except ProtobufError as error:
        raise ProtobufError(f"{path or 'the object'}: {error}") from None


def _collect(field: Field, wire_type: int, raw: int | bytes, values: dict[int, Any],
             path: str) -> None:
    if field.cardinality == "map":
        if not isinstance(raw, bytes):
            raise ProtobufError(f"{path}: a map entry with wire type {wire_type}")
        key, value = _map_entry(field, raw, path)
        values.setdefault(field.number, {})[key] = value
    elif field.cardinality == "list":
        items = values.setdefault(field.number, [])
        if (isinstance(raw, bytes) and field.type in SCALAR_WIRE_TYPES
                and SCALAR_WIRE_TYPES[field.type] != LENGTH_DELIMITED):
            items.extend(packed(field.type, raw))
        else:
            items.append(_value(field.type, wire_type, raw, f"{path}[{len(items)}]"))
    else:
        values[field.number] = _value(field.type, wire_type, raw, path)


def _map_entry(field: Field, data: bytes, path: str) -> tuple[str, Any]:
    key: Any = _zero(field.key_type)
    value: Any = None
    has_value = False
    for number, wire_type, raw in _fields_at(data, path):
        if number == 1:
            key = _value(field.key_type, wire_type, raw, f"{path} key")
        elif number == 2:
            value, has_value = _value(field.type, wire_type, raw, f"{path}[{key}]"), True
    if not has_value:
        value = _absent(field.type, path)
    return str(key), value


def _value(type_name: str, wire_type: int, raw: int | bytes, path: str) -> Any:
    expected = SCALAR_WIRE_TYPES.get(type_name, LENGTH_DELIMITED)
    if wire_type != expected:
        raise ProtobufError(f"{path}: wire type {wire_type} for a {type_name}, "
                            f"expected {expected}")
    if isinstance(raw, int):
        return scalar(type_name, raw)
    if type_name == "string":
        return _text(raw, path)
    if type_name == "bytes":
        return base64.b64encode(raw).decode("ascii")
    return decode_message(type_name, raw, path)


def _emit(field: Field, values: dict[int, Any], obj: dict[str, Any], path: str) -> None:
    """Write one field into the JSON object as encoding/json would."""
    present = field.number in values
    if not field.json_name:  # inline: the struct's fields are the parent's
        inline = values[field.number] if present else _absent(field.type, path)
        if isinstance(inline, dict):
            obj.update(inline)
        return
    if field.presence == "pointer":
        if present:
            obj[field.json_name] = values[field.number]
        return
    is_struct = field.cardinality == "one" and field.type not in SCALAR_WIRE_TYPES
    if field.presence == "omitempty" and not is_struct:  # encoding/json never omits a struct
        if present and values[field.number] not in _EMPTY:
            obj[field.json_name] = values[field.number]
        return
    if present:
        obj[field.json_name] = values[field.number]
    elif field.cardinality == "one":
        obj[field.json_name] = _absent(field.type, path)
    else:
        obj[field.json_name] = None  # a nil slice or map


_EMPTY: tuple[Any, ...] = ("", 0, False, [], {})  # 0 == 0.0 == False: one check covers them


def _absent(type_name: str, path: str) -> Any:
    """The JSON of a non-pointer field the body left out: the type's zero value."""
    if type_name in SCALAR_WIRE_TYPES:
        return _zero(type_name)
    return decode_message(type_name, b"", path)


def _zero(type_name: str) -> Any:
    if type_name == "string":
        return ""
    if type_name == "bytes":
        return None  # a nil []byte
    if type_name == "bool":
        return False
    return 0.0 if type_name in ("double", "float") else 0


def _text(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtobufError(f"{path}: a string that is not UTF-8 ({error})") from None


def _number_fields(data: bytes, path: str) -> dict[int, int | bytes]:
    return {number: value for number, _, value in _fields_at(data, path)}


# --- the types whose JSON is not their message's fields ---

def _time(data: bytes, path: str, micro: bool = False) -> str | None:
    """meta.v1.Time/MicroTime {seconds, nanos}: a zero time is an empty message, null in JSON;
    Time is whole seconds (the API server drops nanos), MicroTime has microseconds."""
    if not data:
        return None
    values = _number_fields(data, path)
    seconds = scalar("int64", _int(values.get(1, 0), path))
    nanos = scalar("int32", _int(values.get(2, 0), path))
    try:
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufError(f"{path}: {seconds} seconds is out of range") from None
    text = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}")
    if micro:
        return f"{text}.{int(nanos) // 1000 % 1_000_000:06d}Z"
    return f"{text}Z"


def _micro_time(data: bytes, path: str) -> str | None:
    return _time(data, path, micro=True)


def _int(value: int | bytes, path: str) -> int:
    if not isinstance(value, int):
        raise ProtobufError(f"{path}: a number field holds bytes")
    return value


def _duration(data: bytes, path: str) -> str:
    nanoseconds = scalar("int64", _int(_number_fields(data, path).get(1, 0), path))
    return go_duration(int(nanoseconds))


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000_000_000:  # under a second: one unit with a fraction
        for limit, digits, unit in ((1_000, 0, "ns"), (1_000_000, 3, "µs"), (10**9, 6, "ms")):
            if value < limit:
                return f"{sign}{_fraction(value, digits)}{unit}"
    seconds, nanos = divmod(value, 10**9)
    out = f"{_fraction(seconds % 60 * 10**9 + nanos, 9)}s"
    minutes = seconds // 60
    if minutes:
        out = f"{minutes % 60}m{out}"
        if minutes // 60:
            out = f"{minutes // 60}h{out}"
    return sign + out


def _fraction(value: int, digits: int) -> str:
    """value / 10**digits, without trailing zeros or a bare point (Go's fmtFrac + fmtInt)."""
    whole, part = divmod(value, 10**digits) if digits else (value, 0)
    if not part:
        return str(whole)
    return f"{whole}.{str(part).rjust(digits, '0').rstrip('0')}"


def _int_or_string(data: bytes, path: str) -> int | str:
    """IntOrString {type, intVal, strVal}: type 1 is a string."""
    values = _number_fields(data, path)
    if scalar("int64", _int(values.get(1, 0), path)) == 1:
        text = values.get(3, b"")
        return _text(text, path) if isinstance(text, bytes) else ""
    return int(scalar("int32", _int(values.get(2, 0), path)))


def _quantity(data: bytes, path: str) -> str:
    text = _number_fields(data, path).get(1, b"")
    return (_text(text, path) if isinstance(text, bytes) else "") or "0"


def _raw_json(data: bytes, path: str) -> Any:
    """RawExtension {raw} and FieldsV1 {Raw}: the embedded document; null when unset."""
    raw = _number_fields(data, path).get(1)
    if raw is None:
        return None
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: raw is not bytes")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ProtobufError(f"{path}: the embedded object is not JSON ({error})") \
            from None


_SPECIAL: dict[str, Callable[[bytes, str], Any]] = {
    f"{_META}.Time": _time,
    f"{_META}.MicroTime": _micro_time,
    f"{_META}.Duration": _duration,
    f"{_META}.FieldsV1": _raw_json,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_json,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
}
