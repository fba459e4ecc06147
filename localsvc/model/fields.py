"""Which fields exist in the Kubernetes API, from the official schemas. Pure, apart from reading
the packaged data file once.

kubectl validates strictly by default: an unknown field (`imagePulPolicy`, `readinessprobe`) is an
error, not something silently dropped. `data/fields.json` lists, for every object type reachable
from the kinds localsvc runs, its field names and each field's type name; it is generated from the
strict JSON schemas of one Kubernetes version by scripts/update-field-schemas. Maps with free keys
(labels, annotations, ConfigMap data, resource limits) and `status` (the server's to fill, ignored
on input as `kubectl apply` does) are never reported.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from localsvc.model.load import child_path, parent_path

DATA_FILE = Path(__file__).parent / "data" / "fields.json"
LIST_PREFIX = "[]"
MAP_PREFIX = "map[string]"
_INDEX = re.compile(r"\[[^\]]*\]")
_LISTED_FIELDS_MAX = 15  # more known fields than this: point to `kubectl explain` instead


@dataclass(frozen=True)
class FieldSchema:
    """The generated data: each kind's root type, each object type's fields and their types."""

    source: str
    kinds: dict[str, str]
    types: dict[str, dict[str, str]]


@dataclass(frozen=True)
class UnknownField:
    """A key that its object's type does not have, where it was found and what was meant."""

    path: str  # e.g. spec.containers[0].imagePulPolicy
    name: str  # the key as written
    type_name: str  # the object type it was found in, e.g. core.v1.Container
    suggestion: str | None  # the closest known field, if any is close
    known: tuple[str, ...]  # the fields that type does have

    def message(self, kind: str) -> str:
        """What the problem says: the field, then the fix."""
        text = f'unknown field "{self.name}"'
        if self.suggestion is not None:
            return f'{text}; did you mean "{self.suggestion}"?'
        short_type = self.type_name.rsplit(".", 1)[-1]
        if len(self.known) <= _LISTED_FIELDS_MAX:
            return f"{text}; the fields of {short_type} are: {', '.join(self.known)}"
        return f"{text}; `kubectl explain {explain_path(kind, self.path)}` lists the fields"


@cache
def schema() -> FieldSchema:
    """The packaged field data (read once)."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return FieldSchema(source=data["source"], kinds=data["kinds"], types=data["types"])


def fields_of(type_name: str) -> dict[str, str] | None:
    """The fields of an object type (name -> type name); None for a scalar, list, map or `any`."""
    return schema().types.get(type_name)


def suggest(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The candidate `name` most likely misspells: same letters in another case first, then the
    only candidate ending with it (`name` -> `secretName`), then the closest by difflib's ratio
    (at least 0.6); None when nothing is close."""
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    endings = [c for c in candidates if name and c.lower().endswith(name.lower())]
    if len(endings) == 1:
        return endings[0]
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def unknown_fields(kind: str, obj: dict[str, Any]) -> list[UnknownField]:
    """Every key of `obj` (an object of `kind`) that its schema does not have, in document order.

    A kind without a schema (one localsvc skips) has no unknown fields. Values of the wrong type
    (a string where a mapping belongs) are not walked: the value rules report them.
    """
    root = schema().kinds.get(kind)
    out: list[UnknownField] = []
    if root is not None:
        _walk(obj, root, "", out)
    return out


def without_unknown_fields(kind: str, obj: dict[str, Any]) -> tuple[dict[str, Any],
                                                                   list[UnknownField]]:
    """`obj` without the keys its schema does not have (a copy; `obj` is left as it is), and
    those keys: what the API server keeps of a body under fieldValidation Warn or Ignore."""
    unknown = unknown_fields(kind, obj)
    if not unknown:
        return obj, []
    root = schema().kinds[kind]
    cleaned = _pruned(obj, root)
    assert isinstance(cleaned, dict)
    return cleaned, unknown


def _pruned(value: Any, type_name: str) -> Any:
    """A copy of `value` without unknown keys (walked as _walk does)."""
    if type_name.startswith(LIST_PREFIX):
        if not isinstance(value, list):
            return value
        item_type = type_name[len(LIST_PREFIX) :]
        return [_pruned(item, item_type) for item in value]
    if type_name.startswith(MAP_PREFIX):
        if not isinstance(value, dict):
            return value
        value_type = type_name[len(MAP_PREFIX) :]
        return {key: _pruned(item, value_type) for key, item in value.items()}
    fields = fields_of(type_name)
    if fields is None or not isinstance(value, dict):
        return value
    return {key: _pruned(item, fields[str(key)]) for key, item in value.items()
            if str(key) in fields}


def _walk(value: Any, type_name: str, path: str, out: list[UnknownField]) -> None:
    if type_name.startswith(LIST_PREFIX):
        if isinstance(value, list):
            item_type = type_name[len(LIST_PREFIX) :]
            for index, item in enumerate(value):
                _walk(item, item_type, child_path(path, index), out)
        return
    if type_name.startswith(MAP_PREFIX):
        if isinstance(value, dict):
            value_type = type_name[len(MAP_PREFIX) :]
            for key, item in value.items():
                _walk(item, value_type, child_path(path, str(key)), out)
        return
    fields = fields_of(type_name)
    if fields is None or not isinstance(value, dict):
        return  # a scalar, `any`, or a value of the wrong shape
    for key, item in value.items():
        here = child_path(path, str(key))
        field_type = fields.get(str(key))
        if field_type is None:
            known = tuple(sorted(fields))
            out.append(UnknownField(here, str(key), type_name, suggest(str(key), known), known))
        else:
            _walk(item, field_type, here, out)


def explain_path(kind: str, path: str) -> str:
    """The `kubectl explain` argument for the object holding `path`: `pod.spec.containers`."""
    parent = _INDEX.sub("", parent_path(path))  # explain takes field names, not list indexes
    return ".".join([kind.lower(), *(part for part in parent.split(".") if part)])
