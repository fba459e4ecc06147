"""Field sets as managedFields writes them (fieldsV1), and the fields a configuration sets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from localsvc.model.kubeapi.fieldset import (
    DEDUCED, EMPTY, BadFieldsV1, FieldSet, Slot, fields_of, from_fields_v1, from_paths,
    key_token, path_string, root_slot, token_order, value_token,
)
from localsvc.model.kubeapi.patchmeta import FieldMeta


def meta(type_: str | None = None, *, list_: bool = False, map_: bool = False,
         merge_key: str | None = None, strategy: tuple[str, ...] = (),
         list_type: str | None = None, keys: tuple[str, ...] = (),
         map_type: str | None = None) -> FieldMeta:
    return FieldMeta(type_, list_, map_, merge_key, strategy, list_type, keys, map_type)


@dataclass
class TinySchema:
    """A schema of a few types, so the rules are tested apart from the generated data."""

    types: dict[str, dict[str, FieldMeta]] = field(default_factory=lambda: {
        "Thing": {"metadata": meta("Meta"), "spec": meta("Spec"), "status": meta("Status")},
        "Meta": {"name": meta(), "labels": meta(map_=True),
                 "finalizers": meta(list_=True, strategy=("merge",), list_type="set")},
        "Spec": {"replicas": meta(), "args": meta(list_=True, list_type="atomic"),
                 "selector": meta("Selector", map_type="atomic"),
                 "items": meta("Item", list_=True, merge_key="name", strategy=("merge",),
                               list_type="map", keys=("name",)),
                 "ports": meta("Port", list_=True, list_type="map", keys=("port", "protocol")),
                 "legacy": meta("Item", list_=True, merge_key="name", strategy=("merge",)),
                 "tags": meta(list_=True, strategy=("merge",)),
                 "extra": meta()},
        "Item": {"name": meta(), "image": meta(), "env": meta(map_=True)},
        "Port": {"port": meta(), "protocol": meta(), "name": meta()},
        "Selector": {"matchLabels": meta(map_=True)},
        "Status": {"ready": meta()},
    })

    def root_type(self, api_version: str, kind: str) -> str | None:
        return "Thing" if (api_version, kind) == ("test/v1", "Thing") else None

    def field(self, type_name: str, name: str) -> FieldMeta | None:
        return self.types.get(type_name, {}).get(name)


SCHEMA = TinySchema()
THING = Slot("struct", "Thing")


def v1(value: dict[str, object]) -> str:
    return json.dumps(fields_of(value, THING, SCHEMA).to_fields_v1(), separators=(",", ":"))


def test_tokens_are_compact_json_with_sorted_keys() -> None:
    assert key_token({"protocol": "TCP", "containerPort": 80}) == \
        'k:{"containerPort":80,"protocol":"TCP"}'
    assert value_token("example.com/x") == 'v:"example.com/x"'


def test_paths_print_as_the_server_prints_them() -> None:
    path = ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")
    assert path_string(path) == '.spec.containers[name="web"].image'
    assert path_string(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')) == \
        '.spec.ports[port=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
    assert path_string(("f:args", "i:2")) == ".args[2]"


def test_order_fields_keys_values_indices_and_numbers_by_value() -> None:
    tokens = ["i:0", 'v:"b"', 'k:{"name":"a"}', "f:z", "f:a", "v:10", "v:9"]
    assert sorted(tokens, key=token_order) == \
        ["f:a", "f:z", 'k:{"name":"a"}', "v:9", "v:10", 'v:"b"', "i:0"]


def test_fields_v1_round_trip_puts_the_item_itself_first() -> None:
    item: dict[str, object] = {".": {}, "f:image": {}, "f:name": {}}
    document: dict[str, object] = {
        "f:spec": {"f:items": {'k:{"name":"a"}': item}, "f:replicas": {}}}
    parsed = from_fields_v1(document)
    assert parsed.has(("f:spec", "f:items", 'k:{"name":"a"}'))
    assert not parsed.has(("f:spec",))
    assert json.dumps(parsed.to_fields_v1()) == json.dumps(document)


def test_set_algebra() -> None:
    item = 'k:{"name":"x"}'
    a = from_paths([("f:spec", "f:replicas"), ("f:spec", "f:items", item)])
    b = from_paths([("f:spec", "f:replicas"), ("f:metadata", "f:name")])
    assert list(a.intersection(b).paths()) == [("f:spec", "f:replicas")]
    assert list(a.difference(b).paths()) == [("f:spec", "f:items", item)]
    assert list(a.union(b).paths()) == [("f:metadata", "f:name"), ("f:spec", "f:replicas"),
                                        ("f:spec", "f:items", item)]
    # A member removes only itself in a difference, and everything under it recursively.
    whole = from_paths([("f:status",), ("f:status", "f:ready")])
    assert whole.difference(from_paths([("f:status",)])).has(("f:status", "f:ready"))
    assert whole.recursive_difference(from_paths([("f:status",)])).is_empty()
    assert EMPTY.is_empty() and FieldSet(frozenset(), {"f:x": EMPTY}).is_empty()


def test_struct_fields_are_containers_map_entries_and_items_are_members() -> None:
    assert v1({"metadata": {"name": "x", "labels": {"app": "web"}}, "spec": {"replicas": 2}}) == \
        '{"f:metadata":{"f:labels":{"f:app":{}},"f:name":{}},"f:spec":{"f:replicas":{}}}'
    assert v1({"spec": {"items": [{"name": "a", "image": "i", "env": {"K": "v"}}]}}) == (
        '{"f:spec":{"f:items":{"k:{\\"name\\":\\"a\\"}":{".":{},"f:env":{"f:K":{}},'
        '"f:image":{},"f:name":{}}}}}')


def test_atomic_lists_and_maps_are_one_field_and_sets_list_values() -> None:
    assert v1({"spec": {"args": ["a", "b"], "selector": {"matchLabels": {"a": "b"}}}}) == \
        '{"f:spec":{"f:args":{},"f:selector":{}}}'
    assert v1({"metadata": {"finalizers": ["b", "a"]}}) == \
        '{"f:metadata":{"f:finalizers":{"v:\\"a\\"":{},"v:\\"b\\"":{}}}}'


def test_merge_strategy_without_list_type_makes_a_map_list_or_a_set() -> None:
    assert v1({"spec": {"legacy": [{"name": "a"}], "tags": ["t"]}}) == (
        '{"f:spec":{"f:legacy":{"k:{\\"name\\":\\"a\\"}":{".":{},"f:name":{}}},'
        '"f:tags":{"v:\\"t\\"":{}}}}')


def test_a_missing_protocol_key_is_its_default_tcp() -> None:
    assert v1({"spec": {"ports": [{"port": 80}]}}) == \
        '{"f:spec":{"f:ports":{"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:port":{}}}}}'


def test_empty_objects_are_members_empty_granular_lists_are_nothing() -> None:
    assert v1({"metadata": {"labels": {}}, "spec": {"items": []}}) == \
        '{"f:metadata":{"f:labels":{}}}'


def test_without_a_schema_objects_are_maps_and_lists_atomic() -> None:
    slot = root_slot(SCHEMA, "example.com/v1", "Custom")
    assert slot == DEDUCED
    found = fields_of({"spec": {"a": {"b": 1}, "l": [1, 2]}}, slot, SCHEMA)
    assert json.dumps(found.to_fields_v1(), separators=(",", ":")) == \
        '{"f:spec":{".":{},"f:a":{".":{},"f:b":{}},"f:l":{}}}'


def test_unknown_fields_of_a_known_type_are_deduced() -> None:
    # The field of the struct is a container; inside it, without a schema, entries are members.
    assert v1({"spec": {"unknown": {"x": {"y": 1}}}}) == \
        '{"f:spec":{"f:unknown":{"f:x":{".":{},"f:y":{}}}}}'


@pytest.mark.parametrize("document, where", [
    ([], "fieldsV1: must be an object"),
    ({"spec": {}}, "'spec' is not f:, k:, v: or i:"),
    ({"f:spec": {"f:x": 1}}, "fieldsV1.f:spec.f:x: must be an object"),
])
def test_malformed_fields_v1_names_the_place(document: object, where: str) -> None:
    with pytest.raises(BadFieldsV1, match=where.replace(".", r"\.").replace("[", r"\[")):
        from_fields_v1(document)
