"""One style for a bad value in every validation message (model/shown.py): the API server's."""

from __future__ import annotations

import datetime

import pytest

from localsvc.model import names
from localsvc.model.shown import show
from localsvc.model.validate import check


@pytest.mark.parametrize(("value", "expected"), [
    (5, "5"),
    (2.5, "2.5"),
    (True, "true"),
    (None, "null"),
    ("web", '"web"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a\nb", '"a\\nb"'),  # a message stays on one line
    ("café", '"café"'),  # readable, as Go's %q keeps printable letters
    ({"a": 1}, "a mapping"),
    ([1, 2], "a list"),
    (datetime.date(2026, 12, 7), '"2026-12-07"'),  # YAML dates have no JSON form
])
def test_values_are_shown_as_the_api_server_shows_them(value: object, expected: str) -> None:
    assert show(value) == expected


def test_name_rules_quote_with_the_same_helper() -> None:
    # Before: the name was pasted between quotes as it was, a quote in it broke the message.
    error = names.dns1123_label_error('a"b')
    assert error is not None and error.endswith('(got "a\\"b")')


def test_manifest_checks_use_the_same_helper() -> None:
    assert check.show is show
