"""ConfigMaps and Secrets: keys, plain and base64 values."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show

# The API server's limit on the data of one ConfigMap or Secret (both are held in etcd whole).
MAX_DATA_BYTES = 1024 * 1024


def check_configmap(check: Check) -> None:
    data = check.mapping(check.m.obj.get("data"), "data") or {}
    for key, value in data.items():
        path = child_path("data", key)
        check_config_key(check, key, path)
        check.string(value, path)
    binary = check.mapping(check.m.obj.get("binaryData"), "binaryData") or {}
    for key, value in binary.items():
        path = child_path("binaryData", key)
        check_config_key(check, key, path)
        if key in data:
            check.add(
                path,
                f'duplicate of key "{key}" in data; a key may be in data or in '
                "binaryData, not both",
            )
        check_base64(check, value, path, "")
    check.boolean(check.m.obj.get("immutable"), "immutable")
    size = sum(len(k) + len(v.encode()) for k, v in data.items() if isinstance(v, str))
    size += sum(len(k) + _decoded_size(v) for k, v in binary.items())
    check_data_size(check, size, "ConfigMap's data and binaryData")


def check_secret(check: Check) -> None:
    check.string(check.m.obj.get("type"), "type")
    data = check.mapping(check.m.obj.get("data"), "data") or {}
    for key, value in data.items():
        path = child_path("data", key)
        check_config_key(check, key, path)
        check_base64(check, value, path, "; use stringData for plain text")
    string_data = check.mapping(check.m.obj.get("stringData"), "stringData") or {}
    for key, value in string_data.items():
        path = child_path("stringData", key)
        check_config_key(check, key, path)
        check.string(value, path)
    check.boolean(check.m.obj.get("immutable"), "immutable")
    size = sum(_decoded_size(v) for k, v in data.items() if k not in string_data)
    size += sum(len(v.encode()) for v in string_data.values() if isinstance(v, str))
    check_data_size(check, size, "Secret's values")


def check_data_size(check: Check, size: int, what: str) -> None:
    if size > MAX_DATA_BYTES:
        check.add(
            "data",
            f"too long: the {what} must total at most {MAX_DATA_BYTES} bytes (1 MiB) (got {size})",
        )


def _decoded_size(value: Any) -> int:
    """The byte length of a base64 value (0 when it is not valid base64: reported apart)."""
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return 0


def check_config_key(check: Check, key: str, path: str) -> None:
    if error := names.config_key_error(key):
        check.add(path, error)


def check_base64(check: Check, value: Any, path: str, hint: str) -> None:
    text = check.string(value, path)
    if text is None:
        return
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        shown = show(text if len(text) <= 40 else text[:37] + "...")
        check.add(path, f"must be base64-encoded (got {shown}){hint}")
