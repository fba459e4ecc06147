"""Tests of localsvc.model.yamltext: the bounded YAML reader (size, aliases, nesting, tags)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.model import yamltext
from localsvc.model.yamltext import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_TEXT_BYTES,
    NodeBuilder,
    YamlTextError,
    compose,
    decode,
)

ROOT = Path(__file__).resolve().parents[2]


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: each level is 9 aliases of the level before (9^levels strings)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


def _build(text: str, file: str = "t.yaml") -> tuple[list[object], list[str]]:
    composed = compose(text)
    values: list[object] = []
    problems: list[str] = []
    for node in composed.documents:
        builder = NodeBuilder(file, composed)
        values.append(builder.build(node, ""))
        problems.extend(str(p) for p in builder.problems)
    return values, problems


def test_billion_laughs_is_refused_fast_with_its_line() -> None:
    text = billion_laughs()
    assert len(text) < 400
    started = time.monotonic()
    with pytest.raises(YamlTextError) as caught:
        compose(text)
    assert time.monotonic() - started < 1.0
    # Level f (line 6) holds 9 * 7381 expansions of e: the first to pass the budget.
    assert caught.value.line == 6
    assert caught.value.message == (
        f"aliases (*e) expand this text to more than {MAX_ALIAS_NODES} values; "
        "write the repeated parts out or use fewer nested aliases"
    )


def test_alias_bomb_in_a_subprocess_stays_small_and_fast(tmp_path: Path) -> None:
    """Measured in a fresh process: the peak memory is the interpreter's, not the bomb's.

    The peak is VmHWM of the child's own address space: getrusage's ru_maxrss would also count
    the parent's resident size at the fork (Linux keeps it across exec), and the parent is a
    pytest process that has grown over the whole suite."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    script = (
        "import re, sys, time\n"
        "from localsvc.model.load import load_paths\n"
        "start = time.monotonic()\n"
        "result = load_paths([sys.argv[1]])\n"
        "elapsed = time.monotonic() - start\n"
        "status = open('/proc/self/status').read()\n"
        "print(elapsed, re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
        "print(*result.problems, sep='\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bomb)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )
    measures, problem = done.stdout.splitlines()
    elapsed, max_rss_kib = float(measures.split()[0]), int(measures.split()[1])
    assert elapsed < 1.0
    assert max_rss_kib < 150 * 1024
    assert problem.startswith(f"{bomb}:6: aliases (*e) expand this text to more than")


def test_many_small_bombs_share_one_budget() -> None:
    """The budget is per text: 20 documents that each stay under it together do not."""
    one = billion_laughs(levels=5)  # 9^5 = 59,049 strings: under the budget alone
    compose(one)
    with pytest.raises(YamlTextError, match="more than 100000 values"):
        compose("---\n".join([one] * 20))


def test_ordinary_anchors_are_fine() -> None:
    text = "x: &env [{name: A, value: '1'}, {name: B, value: '2'}]\ny: *env\nz: {<<: {k: v}}\n"
    values, problems = _build(text)
    assert problems == []
    assert values == [
        {
            "x": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "y": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "z": {"k": "v"},
        }
    ]


def test_budget_counts_the_expansion_exactly() -> None:
    """A sequence of n strings aliased k times adds k * (n + 1) nodes."""
    n = 999
    row = "[" + ",".join(["x"] * n) + "]"
    fits = MAX_ALIAS_NODES // (n + 1)
    compose(f"a: &a {row}\nb: [{','.join(['*a'] * fits)}]\n")
    with pytest.raises(YamlTextError) as caught:
        compose(f"a: &a {row}\nb: [{','.join(['*a'] * (fits + 1))}]\n")
    assert caught.value.line == 2


def test_cycle_is_a_problem_not_a_recursion() -> None:
    values, problems = _build("a: &a [1, *a]\n")
    assert problems == ["t.yaml:1: a[1]: an alias refers to the node that contains it (a cycle)"]
    assert values == [{"a": [1, None]}]


def test_deep_nesting_is_refused() -> None:
    compose("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(YamlTextError) as caught:
        compose("\n" + "[" * 100_000)
    assert caught.value.line == 2
    assert caught.value.message == f"nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: !!python/object:os.system {x: 1}", "the tag !!python/object:os.system is not allowed"),
        ("a: !!python/name:os.system ''", "the tag !!python/name:os.system is not allowed"),
        ("a: !custom 1", "the tag !custom is not allowed"),
        ("a: !!binary aGk=", "the tag !!binary is not allowed"),
        ("a: !!timestamp 2024-01-01", "the tag !!timestamp is not allowed"),
        ("a: !!set {x}", "the tag !!set is not allowed"),
        ("a: !!map [1]", "the tag !!map is not allowed"),
        ("a: !!int {b: 1}", "the tag !!int is not allowed"),
        ("a: !!int x", '"x" is not a valid !!int'),
        ("a: !!float x", '"x" is not a valid !!float'),
        ("a: !!bool 2", '"2" is not a valid !!bool'),
    ],
)
def test_explicit_tags_are_problems_with_their_line(text: str, expected: str) -> None:
    _, problems = _build("ok: 1\n" + text + "\n")
    assert [p.split(": ", 2)[0:2] for p in problems] == [["t.yaml:2", "a"]]
    assert problems[0].startswith(f"t.yaml:2: a: {expected}")


def test_core_tags_and_implicit_types_are_allowed() -> None:
    text = "a: !!str 5\nb: !!int '7'\nd: 2024-01-01\ne: !!seq [1]\nf: !!map {g: !!null ''}\n"
    values, problems = _build(text)
    assert problems == []
    assert values == [{"a": "5", "b": 7, "d": "2024-01-01", "e": [1], "f": {"g": None}}]


def test_raw_text_and_lines_are_recorded() -> None:
    composed = compose("a:\n  b: 1.10\n  c: [x, y]\n")
    builder = NodeBuilder("t.yaml", composed)
    builder.build(composed.documents[0], "")
    assert builder.raw["a.b"] == "1.10"
    assert builder.lines == {"a": 1, "a.b": 2, "a.c": 3, "a.c[0]": 3, "a.c[1]": 3}


def test_duplicate_keys_and_non_string_keys() -> None:
    _, problems = _build("a: 1\na: 2\n? [k]\n: v\n")
    assert problems == [
        't.yaml:2: a: mapping key "a" already defined at line 1; keep only one',
        "t.yaml:3: mapping keys must be strings",
    ]


def test_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(YamlTextError) as caught:
        compose("a: 1\nb: c: d\n")
    assert (caught.value.line, caught.value.message) == (
        2,
        "mapping values are not allowed here (column 5)",
    )
    with pytest.raises(YamlTextError) as caught:
        compose("a: 1\n---\nb: 2\n", single=True)
    assert caught.value.line == 2 and "another document" in caught.value.message


def test_decode_limits_size_and_encoding() -> None:
    assert decode("\ufeffa: é\n".encode()) == "a: é\n"
    assert decode(b"x" * MAX_TEXT_BYTES) == "x" * MAX_TEXT_BYTES
    with pytest.raises(YamlTextError) as caught:
        decode(b"x" * (MAX_TEXT_BYTES + 1))
    assert (caught.value.line, caught.value.message) == (
        None,
        "larger than 8 MiB; split it into several files",
    )
    with pytest.raises(YamlTextError) as caught:
        decode(b"a: 1\nb: \xff\n")
    assert (caught.value.line, caught.value.message) == (2, "not UTF-8 text")


def test_a_character_yaml_forbids_is_an_error_with_its_line() -> None:
    """PyYAML checks characters while creating its reader: that must not escape as a traceback."""
    with pytest.raises(YamlTextError) as caught:
        compose('a: 1\nb: "\x01"\n')
    assert (caught.value.line, caught.value.message) == (
        2,
        "unacceptable character #x0001: special characters are not allowed",
    )


LOADERS = [yamltext._PureLoader] + ([yamltext._FastLoader] if yamltext._FastLoader else [])


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_both_parsers_give_the_same_nodes_and_limits(loader: Any) -> None:
    """libyaml parses when PyYAML has it (4x less CPU); the limits must hold with either parser."""
    sample = (ROOT / "tests" / "unit" / "data" / "valid-app.yaml").read_text()
    text = sample + "---\nx: !foo {a: &a [1], b: *a}\n"
    composed = yamltext._compose(loader, text, False)
    reference = yamltext._compose(yamltext._PureLoader, text, False)
    assert [_values_and_lines(composed, n) for n in composed.documents] == [
        _values_and_lines(reference, n) for n in reference.documents
    ]
    assert list(composed.bad_tags.values()) == ["!foo"]
    with pytest.raises(YamlTextError, match="more than 100000 values"):
        yamltext._compose(loader, billion_laughs(), False)
    with pytest.raises(YamlTextError, match="nested more than"):
        yamltext._compose(loader, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), False)


def _values_and_lines(
    composed: yamltext.Composed, node: Any
) -> tuple[object, dict[str, int], list[str]]:
    builder = NodeBuilder("t.yaml", composed)
    return builder.build(node, ""), builder.lines, [str(p) for p in builder.problems]
