"""The apply wire format: the body the host sends to the node's `POST /v1/apply`, written by
encode_apply (host/api.py) and read by decode_apply (node/applybody.py), one module for both ends.

    {"manifests": [{"obj": {...}, "file": "k8s/web.yaml", "line": 3, "lines": {"spec": 7}}, ...],
     "prune": true}

`lines` maps field paths to the line each was written on, so that the node's messages name the
user's file and line. Decoding runs in the node's apply executor (a thread): the C JSON decoder
holds the GIL for a whole call, so one `json.loads` of a body of thousands of objects would stop
the node's event loop as surely as running it there. The `manifests` array is decoded one element
per call instead, and the GIL passes to the loop between elements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from localsvc.errors import LocalsvcError
from localsvc.model.load import Manifest

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class BadRequest(LocalsvcError):
    """The request body is not what the endpoint takes (400, with this message)."""


def encode_manifest(m: Manifest) -> dict[str, Any]:
    return {"obj": m.obj, "file": m.file, "line": m.line, "lines": dict(m.lines)}


def encode_apply(manifests: Sequence[Manifest], prune: bool) -> dict[str, Any]:
    """The JSON-ready body of POST /v1/apply."""
    return {"manifests": [encode_manifest(m) for m in manifests], "prune": prune}


def decode_apply(raw: bytes) -> tuple[list[Manifest], bool]:
    """The manifests and prune flag of a POST /v1/apply body (not yet validated); BadRequest
    says what is wrong with the body."""
    try:
        body = loads_in_pieces(raw.decode())
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body is not JSON: {err}") from err
    return manifests_of(body), bool(body.get("prune"))


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _expect(text: str, pos: int, char: str) -> int:
    pos = _skip(text, pos)
    if text[pos:pos + 1] != char:
        raise ValueError(f"expected {char!r} at character {pos}")
    return pos + 1


def _array(text: str, pos: int) -> tuple[list[Any], int]:
    """The JSON array starting at `pos`, each element decoded by its own call, and the
    position after it."""
    items: list[Any] = []
    pos = _skip(text, _expect(text, pos, "["))
    if text[pos:pos + 1] == "]":
        return items, pos + 1
    while True:
        value, pos = _DECODER.raw_decode(text, _skip(text, pos))
        items.append(value)
        pos = _skip(text, pos)
        if text[pos:pos + 1] == "]":
            return items, pos + 1
        pos = _expect(text, pos, ",")


def loads_in_pieces(text: str) -> Any:
    """json.loads(text), decoding the members of top-level arrays one call each (an element
    is small; the whole body may be megabytes). Raises ValueError like json.loads."""
    pos = _skip(text, 0)
    if text[pos:pos + 1] != "{":
        return json.loads(text)  # not an object: small or wrong, decoded at once
    out: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    while text[pos:pos + 1] != "}":
        if out:
            pos = _skip(text, _expect(text, pos, ","))
        key, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(key, str):
            raise ValueError(f"object keys must be strings (character {pos})")
        pos = _skip(text, _expect(text, pos, ":"))
        if text[pos:pos + 1] == "[":
            out[key], pos = _array(text, pos)
        else:
            out[key], pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
    if _skip(text, pos + 1) != len(text):
        raise ValueError(f"extra data at character {pos + 1}")
    return out


def manifests_of(body: Any) -> list[Manifest]:
    """The manifests of a decoded apply body; BadRequest names the element that is wrong."""
    items = body.get("manifests") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise BadRequest('the body must be {"manifests": [{"obj": {...}, "file": ..., '
                         '"line": ...}, ...]}')
    out = []
    for n, i in enumerate(items):
        obj = i.get("obj") if isinstance(i, dict) else None
        if not isinstance(obj, dict):
            raise BadRequest(f"manifests[{n}].obj: must be an object (a Kubernetes manifest)")
        try:
            out.append(Manifest(obj=obj, file=str(i.get("file", "<api>")),
                                line=int(i.get("line") or 1), lines=i.get("lines") or {}))
        except (TypeError, ValueError) as err:
            raise BadRequest(f"manifests[{n}]: {err}") from err
    return out
