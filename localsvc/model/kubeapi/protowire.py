"""The protocol buffers wire format, read: the fields of one message, and their scalar values.

A message is a sequence of (tag, value); the tag is a varint holding the field number and the
wire type: 0 varint, 1 fixed 64 bits, 2 length-delimited (strings, bytes, embedded messages,
packed repeated scalars), 5 fixed 32 bits. Groups (3, 4) are long deprecated and not met in
Kubernetes. Pure; errors are ProtobufError naming the byte offset. Read by the Kubernetes API's
protobuf bodies (protobuf.py) and by BuildKit's progress stream (runtime/buildkit_status.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_WIRE_TYPES = {VARINT, FIXED64, LENGTH_DELIMITED, FIXED32}

# The wire type each scalar protobuf type is written with (not packed).
SCALAR_WIRE_TYPES = {
    "int32": VARINT, "int64": VARINT, "uint32": VARINT, "uint64": VARINT, "sint32": VARINT,
    "sint64": VARINT, "bool": VARINT, "fixed64": FIXED64, "sfixed64": FIXED64, "double": FIXED64,
    "fixed32": FIXED32, "sfixed32": FIXED32, "float": FIXED32, "string": LENGTH_DELIMITED,
    "bytes": LENGTH_DELIMITED,
}


class ProtobufError(ValueError):
    """Bytes that are not a well-formed protobuf message (for a Kubernetes API request body, the
    API answers 400 BadRequest)."""


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """The unsigned varint at `offset` and the offset after it."""
    value = 0
    for index in range(10):  # a 64-bit value takes at most 10 bytes
        if offset + index >= len(data):
            raise ProtobufError(f"truncated varint: cut short at byte {offset + index}")
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, offset + index + 1
    raise ProtobufError(f"a varint at byte {offset} is longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Each field of a message: (number, wire type, value): an int for varint and fixed
    fields (unsigned, as read), the bytes of a length-delimited one."""
    offset = 0
    while offset < len(data):
        start = offset
        tag, offset = read_varint(data, offset)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or wire_type not in _WIRE_TYPES:
            raise ProtobufError(f"invalid field tag {tag} (field {number}, wire type "
                                f"{wire_type}) at byte {start}")
        value: int | bytes
        if wire_type == VARINT:
            value, offset = read_varint(data, offset)
        elif wire_type == LENGTH_DELIMITED:
            length, offset = read_varint(data, offset)
            if offset + length > len(data):
                raise ProtobufError(f"field {number} at byte {start} claims {length} bytes, "
                                    f"{len(data) - offset} remain: past the end of the message")
            value, offset = data[offset:offset + length], offset + length
        else:
            size = 8 if wire_type == FIXED64 else 4
            if offset + size > len(data):
                raise ProtobufError(f"field {number} at byte {start} is cut short")
            value, offset = int.from_bytes(data[offset:offset + size], "little"), offset + size
        yield number, wire_type, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def scalar(type_name: str, raw: int) -> int | float | bool:
    """A numeric scalar from its varint or fixed wire value."""
    if type_name in ("int32", "sfixed32"):
        return _signed(raw, 32)  # a negative int32 is sign-extended to 64 bits on the wire
    if type_name in ("int64", "sfixed64"):
        return _signed(raw, 64)
    if type_name in ("uint32", "fixed32"):
        return raw & 0xFFFF_FFFF
    if type_name in ("uint64", "fixed64"):
        return raw
    if type_name in ("sint32", "sint64"):
        return (raw >> 1) ^ -(raw & 1)  # zigzag
    if type_name == "bool":
        return raw != 0
    if type_name == "double":
        value: float = struct.unpack("<d", raw.to_bytes(8, "little"))[0]
        return value
    if type_name == "float":
        single: float = struct.unpack("<f", raw.to_bytes(4, "little"))[0]
        return single
    raise ProtobufError(f"{type_name} is not a numeric protobuf type")


def packed(type_name: str, data: bytes) -> list[int | float | bool]:
    """The values of a packed repeated numeric field."""
    wire_type = SCALAR_WIRE_TYPES[type_name]
    values: list[int | float | bool] = []
    offset = 0
    while offset < len(data):
        if wire_type == VARINT:
            raw, offset = read_varint(data, offset)
        else:
            size = 8 if wire_type == FIXED64 else 4
            if offset + size > len(data):
                raise ProtobufError(f"a packed {type_name} list is cut short")
            raw, offset = int.from_bytes(data[offset:offset + size], "little"), offset + size
        values.append(scalar(type_name, raw))
    return values
