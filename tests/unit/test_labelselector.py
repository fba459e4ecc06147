"""Label selectors: parsing kubectl's -l syntax, matching labels, Deployment selectors."""

from __future__ import annotations

import pytest

from localsvc.model.labelselector import (
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_EXISTS,
    NOT_IN,
    Requirement,
    SelectorError,
    from_kubernetes,
    parse_selector,
)


def test_parse_every_operator() -> None:
    selector = parse_selector("a=b,c!=d,e in (x,y),f notin (z),g,!h")
    assert selector.requirements == (
        Requirement("a", EQUALS, ("b",)),
        Requirement("c", NOT_EQUALS, ("d",)),
        Requirement("e", IN, ("x", "y")),
        Requirement("f", NOT_IN, ("z",)),
        Requirement("g", EXISTS),
        Requirement("h", NOT_EXISTS),
    )
    assert str(selector) == "a=b,c!=d,e in (x,y),f notin (z),g,!h"


def test_double_equals_spaces_and_prefixed_keys() -> None:
    selector = parse_selector(" app.kubernetes.io/name == web , tier in ( a , b ) ")
    assert selector.requirements == (
        Requirement("app.kubernetes.io/name", EQUALS, ("web",)),
        Requirement("tier", IN, ("a", "b")),
    )


def test_empty_selector_selects_everything() -> None:
    assert parse_selector("").matches({})
    assert parse_selector("  ").matches({"a": "b"})


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),  # an absent key is "not equal"
        ("a!=b", {"a": "b"}, False),
        ("e in (x,y)", {"e": "y"}, True),
        ("e in (x,y)", {}, False),
        ("f notin (z)", {}, True),
        ("f notin (z)", {"f": "z"}, False),
        ("g", {"g": ""}, True),
        ("g", {}, False),
        ("!h", {}, True),
        ("!h", {"h": "1"}, False),
        ("n>2", {"n": "3"}, True),
        ("n>2", {"n": "2"}, False),
        ("n<2", {"n": "x"}, False),
        ("a=", {"a": ""}, True),
        ("a=b,c=d", {"a": "b", "c": "d"}, True),
        ("a=b,c=d", {"a": "b"}, False),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a=b,", "expected a label key at character 5"),
        ("=b", "expected a label key at character 1"),
        ("a b", "expected =, ==, !=, in, notin, >, < or ','"),
        ("e in x", "expected '(' to open the set of values"),
        ("e in (x", "expected ',' or ')' in the set of values"),
        ("e in ()", "expected at least one value in the set"),
        ("a=b c", "expected ',' or the end at character 5"),
        ("n>x", "expected an integer after '>'"),
        ("-bad=1", "invalid label key '-bad'"),
        ("a=b c d", "expected ',' or the end"),
        ("a=-x-", "invalid label value '-x-'"),
    ],
)
def test_errors_say_where_and_what(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert fragment in str(caught.value)
    assert f'label selector "{text}"' in str(caught.value)


def test_from_kubernetes_deployment_selector() -> None:
    selector = from_kubernetes({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "edge"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    })
    assert selector.matches({"app": "web", "tier": "edge"})
    assert not selector.matches({"app": "web", "tier": "edge", "canary": "1"})
    assert not selector.matches({"app": "web"})
    assert from_kubernetes(None).matches({"anything": "x"})
