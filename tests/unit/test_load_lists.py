"""Lines of List items: each item's paths made relative to it, found in one pass over the List."""

from __future__ import annotations

from localsvc.model.load import load_text


def _config_map(index: int, indent: str) -> str:
    return (f"{indent}- apiVersion: v1\n{indent}  kind: ConfigMap\n{indent}  metadata:\n"
            f"{indent}    name: c{index}\n{indent}  data:\n{indent}    key: v\n")


def test_items_1_and_10_keep_their_own_lines() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        _config_map(i, "") for i in range(12))
    result = load_text(text, "list.yaml")
    assert result.problems == []
    first_line = {m.name: m.line for m in result.manifests}
    assert [first_line[f"c{i}"] for i in (1, 10)] == [4 + 6 * 1, 4 + 6 * 10]
    for m in result.manifests:
        assert m.line_of("data.key") == m.line + 5
        assert m.line_of("metadata.name") == m.line + 3
        assert not any(path.startswith("items") for path in m.lines)


def test_a_list_inside_a_list_is_flattened_with_its_items_lines() -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "- apiVersion: v1\n  kind: List\n  items:\n" + _config_map(0, "  ")
            + _config_map(1, ""))
    result = load_text(text, "nested.yaml")
    assert result.problems == []
    assert [(m.name, m.line, m.line_of("data.key")) for m in result.manifests] == [
        ("c0", 7, 12), ("c1", 13, 18)]
