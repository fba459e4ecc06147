"""Sets of object fields, as server-side apply records them in `managedFields` (fieldsV1).

A path is a tuple of tokens written as fieldsV1 writes them (sigs.k8s.io/structured-merge-diff):
`f:spec` a field, `k:{"name":"web"}` an item of a map-list by its keys, `v:"example.com/x"` an
item of a set, `i:0` an item of an atomic list by index. A FieldSet holds members (the paths it
names itself) and children (sets under a token); in fieldsV1 a member with children is `".": {}`.

`fields_of` gives the set of fields a configuration sets, walking it with the API's schema
(map-lists by their keys, sets by value, atomic lists and maps as one field), the way the API
server's typed values do. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Path = tuple[str, ...]


class FieldMetaLike(Protocol):
    """What the set needs of one field's schema (patchmeta.FieldMeta has it)."""

    @property
    def type(self) -> str | None: ...
    @property
    def list(self) -> bool: ...
    @property
    def map(self) -> bool: ...
    @property
    def merge_key(self) -> str | None: ...
    @property
    def strategy(self) -> tuple[str, ...]: ...
    @property
    def list_type(self) -> str | None: ...
    @property
    def list_map_keys(self) -> tuple[str, ...]: ...
    @property
    def map_type(self) -> str | None: ...


class SchemaLookup(Protocol):
    """The schema the walk follows: the patchmeta module, or a small one in tests."""

    def root_type(self, api_version: str, kind: str) -> str | None: ...
    def field(self, type_name: str, name: str) -> FieldMetaLike | None: ...


# -- tokens -------------------------------------------------------------------------------------

def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def field_token(name: str) -> str:
    return f"f:{name}"


def key_token(keys: Mapping[str, Any]) -> str:
    """A map-list item: its key fields as compact JSON, sorted by name (as the server writes)."""
    return "k:" + _json({name: keys[name] for name in sorted(keys)})


def value_token(value: Any) -> str:
    return "v:" + _json(value)


def index_token(index: int) -> str:
    return f"i:{index}"


_KIND_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _value_rank(value: Any) -> tuple[int, Any]:
    # structured-merge-diff orders values by type, then by value within the type.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, _json(value))


def token_order(token: str) -> tuple[Any, ...]:
    """Fields (by name) before keys before values before indices, as the server sorts them."""
    kind, text = token[0], token[2:]
    if kind == "f":
        return (0, text)
    if kind == "i":
        return (3, int(text))
    parsed = json.loads(text)
    if kind == "k":
        return (1, tuple((name, _value_rank(parsed[name])) for name in sorted(parsed)))
    return (_KIND_RANK[kind], _value_rank(parsed))


def _segment(token: str) -> str:
    kind, text = token[0], token[2:]
    if kind == "f":
        return f".{text}"
    if kind == "i":
        return f"[{text}]"
    if kind == "v":
        return f"[={text}]"
    keys = json.loads(text)
    return "[" + ",".join(f"{name}={_json(keys[name])}" for name in sorted(keys)) + "]"


def path_string(path: Path) -> str:
    """The path as the server prints it in conflicts: `.spec.containers[name="web"].image`."""
    return "".join(_segment(token) for token in path)


# -- the set ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSet:
    members: frozenset[str] = frozenset()
    children: Mapping[str, FieldSet] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.members and all(child.is_empty() for child in self.children.values())

    def child(self, token: str) -> FieldSet:
        return self.children.get(token, EMPTY)

    def has(self, path: Path) -> bool:
        """Whether `path` is a member."""
        node = self
        for token in path[:-1]:
            node = node.child(token)
        return bool(path) and path[-1] in node.members

    def has_under(self, token: str) -> bool:
        """Whether anything lies strictly below `token`."""
        return not self.child(token).is_empty()

    def union(self, other: FieldSet) -> FieldSet:
        tokens = set(self.children) | set(other.children)
        return _make(self.members | other.members,
                     {t: self.child(t).union(other.child(t)) for t in tokens})

    def intersection(self, other: FieldSet) -> FieldSet:
        tokens = set(self.children) & set(other.children)
        return _make(self.members & other.members,
                     {t: self.child(t).intersection(other.child(t)) for t in tokens})

    def difference(self, other: FieldSet) -> FieldSet:
        """The members of self that other lacks (a member of other removes only itself)."""
        return _make(self.members - other.members,
                     {t: c.difference(other.child(t)) for t, c in self.children.items()})

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, but a member of other also removes everything below it."""
        return _make(self.members - other.members,
                     {t: c.recursive_difference(other.child(t))
                      for t, c in self.children.items() if t not in other.members})

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every member, in the server's order: a node's members, then its children's."""
        for token in sorted(self.members, key=token_order):
            yield (*prefix, token)
        for token in sorted(self.children, key=token_order):
            yield from self.children[token].paths((*prefix, token))

    def to_fields_v1(self) -> dict[str, Any]:
        """The fieldsV1 object, keys in the order the server writes them ("." first)."""
        out: dict[str, Any] = {}
        for token in sorted(set(self.members) | set(self.children), key=token_order):
            below = self.child(token)
            if below.is_empty():
                out[token] = {}
            else:
                inner = below.to_fields_v1()
                out[token] = {".": {}, **inner} if token in self.members else inner
        return out


EMPTY = FieldSet()


def _make(members: frozenset[str], children: Mapping[str, FieldSet]) -> FieldSet:
    kept = {token: child for token, child in children.items() if not child.is_empty()}
    return FieldSet(frozenset(members), kept)


def from_paths(paths: list[Path]) -> FieldSet:
    result = EMPTY
    for path in paths:
        node = FieldSet(frozenset({path[-1]}))
        for token in reversed(path[:-1]):
            node = FieldSet(frozenset(), {token: node})
        result = result.union(node)
    return result


class BadFieldsV1(ValueError):
    """A managedFields entry's fieldsV1 that is not a fields object."""


def from_fields_v1(document: Any, where: str = "fieldsV1") -> FieldSet:
    """The set a fieldsV1 object names; BadFieldsV1 (naming the place) when malformed."""
    if not isinstance(document, Mapping):
        raise BadFieldsV1(f"{where}: must be an object, not {type(document).__name__}")
    members: set[str] = set()
    children: dict[str, FieldSet] = {}
    for token, below in document.items():
        if token == ".":
            continue
        if len(token) < 3 or token[0] not in _KIND_RANK or token[1] != ":":
            raise BadFieldsV1(f"{where}: {token!r} is not f:, k:, v: or i: followed by a name")
        if not isinstance(below, Mapping):
            raise BadFieldsV1(f"{where}.{token}: must be an object")
        if not below or "." in below:
            members.add(token)
        rest = {t: v for t, v in below.items() if t != "."}
        if rest:
            children[token] = from_fields_v1(rest, f"{where}.{token}")
    return _make(frozenset(members), children)


# -- the schema walk ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """How the value at one place is merged: kind struct (fields of type_name), map (free keys,
    values of type_name), maplist (items by keys), set, atomic, or deduced (no schema: objects
    are maps, lists atomic)."""

    kind: str
    type_name: str | None = None
    keys: tuple[str, ...] = ()


DEDUCED = Slot("deduced")
ATOMIC = Slot("atomic")

# Keys of map-lists that the schema defaults, so an item that leaves them out still has a key
# (ContainerPort and ServicePort key on protocol, whose default is TCP).
KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}


def root_slot(schema: SchemaLookup, api_version: str, kind: str) -> Slot:
    type_name = schema.root_type(api_version, kind)
    return DEDUCED if type_name is None else Slot("struct", type_name)


def field_slot(schema: SchemaLookup, parent: Slot, name: str) -> Slot:
    """The slot of field `name` in a struct, or of any value in a map."""
    if parent.kind == "map":
        return item_slot(parent, schema)
    if parent.kind != "struct" or parent.type_name is None:
        return DEDUCED
    meta = schema.field(parent.type_name, name)
    if meta is None:
        return DEDUCED
    if meta.list:
        return _list_slot(meta)
    if meta.map_type == "atomic":
        return ATOMIC
    if meta.map:
        return Slot("map", meta.type)
    return Slot("struct", meta.type) if meta.type else ATOMIC


def _list_slot(meta: FieldMetaLike) -> Slot:
    # An explicit list type decides; else a merge strategy makes a map-list (with a merge key)
    # or a set (without), as the API server converts the schemas; else the list is atomic.
    if meta.list_type == "map":
        keys = meta.list_map_keys or ((meta.merge_key,) if meta.merge_key else ())
        return Slot("maplist", meta.type, keys) if keys else ATOMIC
    if meta.list_type == "set":
        return Slot("set")
    if meta.list_type is None and "merge" in meta.strategy:
        return Slot("maplist", meta.type, (meta.merge_key,)) if meta.merge_key else Slot("set")
    return ATOMIC


def item_slot(container: Slot, schema: SchemaLookup | None = None) -> Slot:
    """The slot of one value of a map, or one item of a map-list or set. An object type that is
    atomic wherever it appears (x-kubernetes-map-type on the type: LabelSelector,
    OwnerReference...) is one field as an item too, when the schema can tell (type_map_type)."""
    if container.kind == "set":
        return ATOMIC
    if not container.type_name:
        return DEDUCED
    type_map_type = getattr(schema, "type_map_type", None)
    if callable(type_map_type) and type_map_type(container.type_name) == "atomic":
        return ATOMIC
    return Slot("struct", container.type_name)


def is_granular(slot: Slot, value: Any) -> bool:
    """Whether the value's parts are fields of their own (else it is one field)."""
    if isinstance(value, dict):
        return slot.kind in ("struct", "map", "deduced")
    if isinstance(value, list):
        return slot.kind in ("maplist", "set")
    return False


def item_token(slot: Slot, item: Any) -> str | None:
    """The token of a map-list or set item; None for an item without its keys."""
    if slot.kind == "set":
        return value_token(item)
    if not isinstance(item, dict):
        return None
    keys = {}
    for name in slot.keys:
        if name in item:
            keys[name] = item[name]
        elif name in KEY_DEFAULTS:
            keys[name] = KEY_DEFAULTS[name]
        else:
            return None
    return key_token(keys)


def fields_of(value: Any, slot: Slot, schema: SchemaLookup) -> FieldSet:
    """The fields a configuration sets (what an applier comes to own): every leaf, every atomic
    value, empty objects, map entries and list items themselves; not the objects that merely
    contain fields."""
    if isinstance(value, dict) and slot.kind in ("struct", "map", "deduced"):
        members: set[str] = set()
        children: dict[str, FieldSet] = {}
        for name, below in value.items():
            token = field_token(name)
            below_slot = field_slot(schema, slot, name)
            if is_granular(below_slot, below):
                children[token] = fields_of(below, below_slot, schema)
            # A struct's field is a member only as a leaf; a map's entries always are.
            if (not is_granular(below_slot, below) or slot.kind != "struct"
                    or (isinstance(below, dict) and not below)):
                members.add(token)
        return _make(frozenset(members), children)
    if isinstance(value, list) and slot.kind in ("maplist", "set"):
        members, children = set(), {}
        for item in value:
            item_key = item_token(slot, item)
            if item_key is None:
                continue
            members.add(item_key)
            below_slot = item_slot(slot, schema)
            if is_granular(below_slot, item):
                children[item_key] = fields_of(item, below_slot, schema)
        return _make(frozenset(members), children)
    return EMPTY


__all__ = [
    "ATOMIC", "BadFieldsV1", "DEDUCED", "EMPTY", "FieldMetaLike", "FieldSet", "KEY_DEFAULTS",
    "Path", "SchemaLookup", "Slot", "field_slot", "field_token", "fields_of", "from_fields_v1",
    "from_paths", "index_token", "is_granular", "item_slot", "item_token", "key_token",
    "path_string", "root_slot", "token_order", "value_token",
]
