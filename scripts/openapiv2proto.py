"""The swagger 2.0 document in protobuf, as the API server serves /openapi/v2 to client-go.

client-go asks /openapi/v2 for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` only
(kubectl explain --output plaintext-openapiv2, and clients older than OpenAPI v3), and decodes it
as gnostic's openapi_v2.Document. This encodes the subset of that message localsvc's document
uses: swagger, info, paths (empty), and definitions, each schema with $ref, format, description,
required, enum, additionalProperties, type, items, allOf, properties and the x-* vendor extensions
(values as YAML; JSON is YAML). Field numbers from gnostic's openapiv2/OpenAPIv2.proto.
Used by scripts/update-openapi.
"""

from __future__ import annotations

import json
from typing import Any

# Wire types.
_VARINT = 0
_LENGTH = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(int(value))


def _any(value: Any) -> bytes:
    """openapi_v2.Any: the value as YAML (field 2)."""
    return _string(2, json.dumps(value, sort_keys=True))


def _named(number: int, name: str, value: bytes) -> bytes:
    """A Named* entry (name = 1, value = 2) as field `number` of its parent."""
    return _field(number, _string(1, name) + _field(2, value))


# Schema's fields (message Schema).
_REF, _FORMAT, _DESCRIPTION, _REQUIRED, _ENUM = 1, 2, 4, 19, 20
_ADDITIONAL, _TYPE, _ITEMS, _ALL_OF, _PROPERTIES, _EXTENSION = 21, 22, 23, 24, 25, 31
_HANDLED = {"$ref", "format", "description", "required", "enum", "additionalProperties", "type",
            "items", "allOf", "properties"}


def schema(node: dict[str, Any]) -> bytes:
    """One schema as message Schema. Keys it cannot carry (other than x-*) are an error: the
    generator must know when the document outgrows this encoder."""
    unknown = {k for k in node if k not in _HANDLED and not k.startswith("x-")}
    if unknown:
        raise ValueError(f"no protobuf encoding for schema keys {sorted(unknown)}")
    out = bytearray()
    if "$ref" in node:
        out += _string(_REF, node["$ref"])
    if "format" in node:
        out += _string(_FORMAT, node["format"])
    if "description" in node:
        out += _string(_DESCRIPTION, node["description"])
    for name in node.get("required", []):
        out += _string(_REQUIRED, name)
    for value in node.get("enum", []):
        out += _field(_ENUM, _any(value))
    if "additionalProperties" in node:
        extra = node["additionalProperties"]
        item = _bool(2, extra) if isinstance(extra, bool) else _field(1, schema(extra))
        out += _field(_ADDITIONAL, item)
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        out += _field(_TYPE, b"".join(_string(1, t) for t in types))
    if "items" in node:
        items = node["items"] if isinstance(node["items"], list) else [node["items"]]
        out += _field(_ITEMS, b"".join(_field(1, schema(i)) for i in items))
    for part in node.get("allOf", []):
        out += _field(_ALL_OF, schema(part))
    if "properties" in node:
        out += _field(_PROPERTIES, b"".join(
            _named(1, name, schema(prop)) for name, prop in sorted(node["properties"].items())))
    for key in sorted(k for k in node if k.startswith("x-")):
        out += _named(_EXTENSION, key, _any(node[key]))
    return bytes(out)


def document(swagger: dict[str, Any]) -> bytes:
    """The whole document as message Document (swagger 1, info 2, paths 8, definitions 9)."""
    if swagger.get("paths"):
        raise ValueError("paths have no protobuf encoding here: the v2 document carries none")
    info = swagger["info"]
    out = bytearray(_string(1, swagger["swagger"]))
    out += _field(2, _string(1, info["title"]) + _string(2, info["version"]))
    out += _field(8, b"")
    out += _field(9, b"".join(_named(1, name, schema(definition))
                              for name, definition in sorted(swagger["definitions"].items())))
    return bytes(out)
