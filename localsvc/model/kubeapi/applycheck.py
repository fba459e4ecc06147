"""What the API server refuses in a server-side apply before merging: managedFields in the
configuration, another version than the live object's, and a configuration its schema cannot
type (map-list items without their keys, or twice), in the server's words. Pure.
"""

from __future__ import annotations

from typing import Any

from localsvc.model.kubeapi.fieldset import (
    KEY_DEFAULTS, SchemaLookup, Slot, field_slot, is_granular, item_slot, item_token,
    path_string,
)


class InvalidApply(ValueError):
    """An applied configuration the server refuses before merging: 400 BadRequest for a bad
    request, 500 with no reason for a configuration its schema cannot type (as the server)."""

    def __init__(self, message: str, code: int = 400, reason: str = "BadRequest") -> None:
        super().__init__(message)
        self.message, self.code, self.reason = message, code, reason

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def check_applied(live: dict[str, Any] | None, applied: dict[str, Any], slot: Slot,
                  schema: SchemaLookup) -> None:
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise InvalidApply("metadata.managedFields must be nil")
    api_version = str(applied.get("apiVersion", ""))
    if live is not None and api_version != live.get("apiVersion"):
        raise InvalidApply("Incorrect version specified in apply patch. Specified patch version: "
                           f"{api_version}, expected: {live.get('apiVersion')}")
    errors = _typed_errors(applied, slot, schema, "")
    if errors:
        metadata = applied.get("metadata") or {}
        group, _, version = api_version.rpartition("/")
        where = (f"{metadata.get('namespace', '')}/{metadata.get('name', '')}; "
                 f"{group}/{version}, Kind={applied.get('kind', '')}")
        detail = errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors)
        raise InvalidApply(f"failed to create typed patch object ({where}): {detail}", 500, "")


def _typed_errors(value: Any, slot: Slot, schema: SchemaLookup, path: str) -> list[str]:
    """Map-list items without their keys, and duplicate items, in the server's words."""
    errors: list[str] = []
    if isinstance(value, dict) and is_granular(slot, value):
        for name, below in value.items():
            errors += _typed_errors(below, field_slot(schema, slot, name), schema,
                                    f"{path}.{name}")
    elif isinstance(value, list) and is_granular(slot, value):
        seen: set[str] = set()
        for index, item in enumerate(value):
            token = item_token(slot, item)
            if token is None:
                present = item if isinstance(item, dict) else {}
                missing = next((k for k in slot.keys
                                if k not in present and k not in KEY_DEFAULTS), "")
                errors.append(f"{path}: element {index}: associative list with keys has an "
                              f'element that omits key field "{missing}" (and doesn\'t have '
                              "default value)")
                continue
            at = path_string((token,))
            if token in seen:
                errors.append(f"{path}: duplicate entries for key {at}")
            seen.add(token)
            errors += _typed_errors(item, item_slot(slot, schema), schema, path + at)
    return errors


__all__ = ["InvalidApply", "check_applied"]
