"""Strategic merge patch (application/strategic-merge-patch+json), as the API server's
k8s.io/apimachinery/pkg/util/strategicpatch applies it. Pure.

A merge patch (null deletes, objects merge) whose lists merge by each field's patch metadata
(patchmeta.py), with directives:
  lists with patchStrategy merge merge their objects by the patch merge key (containers by name,
  ports by containerPort) and their scalars as a set (finalizers); other lists replace;
  {"$patch": "replace"} in an object or a list replaces it instead of merging;
  {"$patch": "delete"} in an object empties it, in a list element deletes the element;
  "$setElementOrder/<field>": [...] orders the merged list;
  "$deleteFromPrimitiveList/<field>": [...] removes scalars from a merged list;
  "$retainKeys": [...] clears every other key (a union such as DeploymentStrategy).
Items of a merged list that the patch names come first, in the patch's order, the other items
placed by their position in the live list (the server's normalizeElementOrder).

Where the server's code takes a patch value as is because the live object lacks the field, this
merges the value into an empty one, so directives and nulls never reach the result (the server
drops them when it decodes the typed object: the result is the same). Likewise
"$deleteFromPrimitiveList/<field>" only ever removes items (the server's code makes the list of
items to remove the field's value when the live object lacks the field or the field does not
merge).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi.patcherror import BAD_REQUEST, INTERNAL, INVALID, PatchError
from localsvc.model.kubeapi.patchmeta import FieldMeta, field

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"


def strategic_merge(obj: dict[str, Any], patch: dict[str, Any], type_name: str) -> dict[str, Any]:
    """Merge `patch` into `obj`, an object of `type_name` (both owned by the caller: mutated)."""
    return _merge_map(obj, patch, _Schema(type_name, False), "")


@dataclass(frozen=True)
class _Schema:
    """What is known of an object being merged: its type's fields, or (map_values) a map with
    free keys whose values are of that type; type_name None: free-form, merged without
    strategies."""

    type_name: str | None
    map_values: bool

    def field(self, name: str) -> FieldMeta | None:
        if self.map_values:
            return _plain(self.type_name)
        return None if self.type_name is None else field(self.type_name, name)


def _plain(type_name: str | None) -> FieldMeta:
    return FieldMeta(type=type_name, list=False, map=False, merge_key=None, strategy=(),
                     list_type=None, list_map_keys=(), map_type=None)


def _child(meta: FieldMeta | None) -> _Schema:
    """The schema of a field's value (of its list's items)."""
    if meta is None:
        return _Schema(None, False)
    return _Schema(meta.type, meta.map and not meta.list)


def _merges(meta: FieldMeta | None) -> bool:
    return meta is not None and "merge" in meta.strategy


def _replaces(meta: FieldMeta | None) -> bool:
    return meta is not None and "replace" in meta.strategy


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: _Schema,
               path: str) -> dict[str, Any]:
    """Merge `patch` into `original` (both owned: mutated and returned)."""
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, schema, path)
        if directive == "delete":
            return {}
        raise PatchError(f"{path or 'the patch'}: unknown patch type: {directive!r} in map "
                         f"(\"$patch\" in an object is \"replace\" or \"delete\")", INTERNAL)
    _apply_retain_keys(original, patch, path)
    _apply_set_element_orders(original, patch, schema, path)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            name = _directive_field(key, DELETE_FROM_PRIMITIVE_LIST, path, "primitive list")
            _delete_from_primitive_list(original, name, value, _at(path, name))
            continue
        if value is None:
            original.pop(key, None)
            continue
        meta = schema.field(key)
        current = original.get(key)
        if isinstance(current, dict) and isinstance(value, dict) and not _replaces(meta):
            original[key] = _merge_map(current, value, _child(meta), _at(path, key))
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, meta, _at(path, key))
        else:
            original[key] = _fresh(value, meta, _at(path, key))
    return original


def _fresh(value: Any, meta: FieldMeta | None, path: str) -> Any:
    """A patch value for a field the live object lacks (or has with another JSON type)."""
    if isinstance(value, dict) and not _replaces(meta):
        return _merge_map({}, value, _child(meta), path)
    if isinstance(value, list) and _merges(meta):
        return _merge_list_field([], value, meta, path)
    return value


def _merge_list_field(original: list[Any], patch: list[Any], meta: FieldMeta | None,
                      path: str) -> list[Any]:
    if not _merges(meta):
        return patch  # lists without patchStrategy merge replace
    assert meta is not None
    return _merge_slice(original, patch, meta.merge_key or "", _child(meta), path)


def _directive_field(key: str, prefix: str, path: str, what: str) -> str:
    head, slash, name = key.partition("/")
    if head != prefix or not slash:
        raise PatchError(f"{_at(path, key)}: invalid patch format of {what}: the key is "
                         f"\"{prefix}/<field>\"", BAD_REQUEST)
    return name


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], path: str) -> None:
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    where = _at(path, RETAIN_KEYS)
    if not isinstance(retained, list):
        raise PatchError(f"{where}: invalid patch format of retainKeys: a list of field names",
                         BAD_REQUEST)
    keep = {key for key in retained if isinstance(key, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise PatchError(f"{where}: invalid patch format of retainKeys: the patch sets "
                             f"\"{key}\", which the list {retained} does not retain", BAD_REQUEST)
    for key in [key for key in original if key not in keep]:
        del original[key]


def _delete_from_primitive_list(original: dict[str, Any], name: str, value: Any,
                                path: str) -> None:
    if not isinstance(value, list):
        raise PatchError(f"{path}: invalid patch format of primitive list: "
                         f"$deleteFromPrimitiveList/{name} is a list of the values to remove",
                         BAD_REQUEST)
    current = original.get(name)
    if isinstance(current, list):
        _element_kind(current, value, path)
        dropped = {_token(item) for item in value}
        original[name] = [item for item in current if _token(item) not in dropped]


def _token(value: Any) -> Hashable:
    """A hashable stand-in for a JSON value, equal where Go's == on decoded JSON is: 1 and 1.0
    alike, true and 1 not (sets and indexes keep long lists linear)."""
    kind = _kind(value)
    if kind == "number" and isinstance(value, float) and value.is_integer():
        return kind, int(value)
    if kind in ("map", "list"):
        return kind, json.dumps(value, sort_keys=True)
    return kind, value


def _positions(tokens: list[Hashable]) -> dict[Hashable, int]:
    """Each token's first index."""
    positions: dict[Hashable, int] = {}
    for index, token in enumerate(tokens):
        positions.setdefault(token, index)
    return positions


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return "string"


def _element_kind(original: list[Any], patch: list[Any], path: str) -> str | None:
    """The one JSON type of both lists' elements; None when both are empty."""
    kinds = {_kind(item) for item in [*original, *patch]}
    if "list" in kinds:
        raise PatchError(f"{path}: lists of lists are not supported", INVALID)
    if len(kinds) > 1:
        raise PatchError(f"{path}: list element types are not identical: "
                         f"{', '.join(sorted(kinds))}", INTERNAL)
    return kinds.pop() if kinds else None


def _key_of(item: Any, merge_key: str, path: str) -> Any:
    if not isinstance(item, dict):
        raise PatchError(f"{path}: an element is not an object: {item!r}", INTERNAL)
    if merge_key not in item:
        raise PatchError(f"{path}: map: {item} does not contain declared merge key: "
                         f"{merge_key}", INTERNAL)
    return item[merge_key]


def _merge_slice(original: list[Any], patch: list[Any], merge_key: str, items: _Schema,
                 path: str) -> list[Any]:
    """A list with patchStrategy merge (the server's mergeSlice)."""
    kind = _element_kind(original, patch, path)
    if kind is None:
        return original
    if kind != "map":
        merged: list[Any] = []
        seen: set[Hashable] = set()
        for item in [*original, *patch]:
            if _token(item) not in seen:
                seen.add(_token(item))
                merged.append(item)
        return _normalize_order(merged, patch, original, "", kind, path)
    if not merge_key:
        raise PatchError(f"{path}: cannot merge lists without merge key for type map", INTERNAL)
    original, patch = _apply_list_directives(original, patch, merge_key, path)
    merged = list(original)
    at = _positions([_token(item[merge_key]) if isinstance(item, dict) and merge_key in item
                     else None for item in merged])
    for element in patch:
        key = _key_of(element, merge_key, path)
        where = f"{path}[{merge_key}={key}]"
        index = at.get(_token(key))
        if index is None:
            at[_token(key)] = len(merged)
            merged.append(_merge_map({}, element, items, where))
        else:
            merged[index] = _merge_map(merged[index], element, items, where)
    return _normalize_order(merged, patch, original, merge_key, kind, path)


def _apply_list_directives(original: list[Any], patch: list[Any], merge_key: str,
                           path: str) -> tuple[list[Any], list[Any]]:
    """Elements {"$patch": "delete", <key>: ...} delete, {"$patch": "replace"} makes the rest
    of the patch the whole list (the server's mergeSliceWithSpecialElements)."""
    plain: list[Any] = []
    deleted: set[Hashable] = set()
    replace = False
    for element in patch:
        if DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[DIRECTIVE]
        if directive == "delete":
            deleted.add(_token(_key_of(element, merge_key, path)))
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError(f"{path}: merging lists cannot yet be specified in the patch",
                             INTERNAL)
        else:
            raise PatchError(f"{path}: unknown patch type: {directive!r} in map: {element} "
                             "(\"$patch\" in a list element is \"delete\" or \"replace\")",
                             INTERNAL)
    if replace:
        return plain, []
    kept = [item for item in original if not (
        isinstance(item, dict) and merge_key in item and _token(item[merge_key]) in deleted)]
    return kept, plain


def _normalize_order(merged: list[Any], patch_order: list[Any], server_order: list[Any],
                     merge_key: str, kind: str, path: str) -> list[Any]:
    """The items the patch names first in the patch's order, the others in the live order,
    interleaved where both are in the live list (the server's normalizeElementOrder)."""
    identity = _identity(merge_key, kind, path)
    wanted = _positions([identity(item) for item in patch_order if not _is_delete(item)])
    live = _positions([identity(item) for item in server_order])
    patch_items = _sorted_by([item for item in merged if identity(item) in wanted],
                             wanted, identity)
    server_only = _sorted_by([item for item in merged if identity(item) not in wanted],
                             live, identity)
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(patch_items):
        if right >= len(patch_items):
            result.append(server_only[left])
            left += 1
        elif left >= len(server_only):
            result.append(patch_items[right])
            right += 1
        else:
            left_at = live.get(identity(server_only[left]))
            right_at = live.get(identity(patch_items[right]))
            if left_at is not None and right_at is not None and left_at < right_at:
                result.append(server_only[left])
                left += 1
            else:
                result.append(patch_items[right])
                right += 1
    return result


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get(DIRECTIVE) == "delete"


def _identity(merge_key: str, kind: str, path: str) -> Callable[[Any], Hashable]:
    """What identifies a list item: its merge key's value, or a scalar itself (as a token)."""
    if kind != "map":
        return _token
    return lambda item: _token(_key_of(item, merge_key, path))


def _sorted_by(items: list[Any], positions: dict[Hashable, int],
               identity: Callable[[Any], Hashable]) -> list[Any]:
    unlisted = sys.maxsize  # after every listed item, in their merged order (a stable sort)
    return sorted(items, key=lambda item: positions.get(identity(item), unlisted))


def _apply_set_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: _Schema,
                              path: str) -> None:
    """Merge each list named by a "$setElementOrder/<field>" and order it as listed (the
    server's mergePatchIntoOriginal); the list leaves the patch."""
    for key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        name = _directive_field(key, SET_ELEMENT_ORDER, path, "setElementOrder list")
        where = _at(path, name)
        if not isinstance(order, list):
            raise PatchError(f"{_at(path, key)}: invalid patch format of setElementOrder list: "
                             "a list", BAD_REQUEST)
        current, patch_list = original.get(name), patch.get(name)
        if current is not None and not isinstance(current, list):
            raise PatchError(f"{where}: $setElementOrder names a field that is not a list",
                             INTERNAL)
        if patch_list is not None and not isinstance(patch_list, list):
            raise PatchError(f"{where}: $setElementOrder/{name} comes with a {name} that is not "
                             "a list", INTERNAL)
        meta = schema.field(name)
        merge_key = (meta.merge_key if meta is not None else None) or ""
        _check_order(patch_list or [], order, merge_key, where)
        merged: list[Any]
        if patch_list is None:
            if current is None:
                continue  # neither the live object nor the patch has the list
            merged = current
        elif current is None:
            merged = _fresh(patch_list, meta, where)
        else:
            merged = _merge_list_field(current, patch_list, meta, where)
        patch.pop(name, None)
        patch_items = [item for item in patch_list or []
                       if not isinstance(item, dict) or DIRECTIVE not in item]
        kind = _element_kind(current or [], patch_items, where)
        if kind is None:
            original[name] = merged
            continue
        original[name] = _normalize_order(merged, order, current or [], merge_key, kind, where)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str, path: str) -> None:
    """The patch's items appear in $setElementOrder, in the same relative order."""
    if not patch_list or not order:
        return
    items = [item for item in patch_list if not _is_delete(item)] if merge_key else patch_list
    identity = _identity(merge_key, "map" if merge_key else "scalar", path)
    at, listed = 0, 0
    while at < len(items) and listed < len(order):
        if isinstance(items[at], dict) and DIRECTIVE in items[at]:
            at += 1
            continue
        if identity(items[at]) == identity(order[listed]):
            at += 1
        listed += 1
    if at < len(items):
        raise PatchError(f"{path}: the order in the patch list {patch_list} doesn't match "
                         f"$setElementOrder list {order}", INTERNAL)
