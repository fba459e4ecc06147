"""The connect subresources' query codec (model/kubeapi/connectquery.py): the API server's
Convert_Slice_string_To_bool and _int64, one reading for pods/log, exec and attach."""

from __future__ import annotations

import pytest

from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import query_bool, query_int, query_str


def test_a_present_flag_is_false_only_for_zero_and_false_in_any_case() -> None:
    for text in ("0", "false", "FALSE", "False", "faLSE", "fal\u017fe"):  # \u017f folds to s
        assert not query_bool({"f": [text]}, "f", True), text
    for text in ("1", "true", "", "yes", "no", "f", "00", " false"):
        assert query_bool({"f": [text]}, "f"), text


def test_an_absent_flag_keeps_its_default_and_only_the_first_value_counts() -> None:
    assert not query_bool({}, "f")
    assert query_bool({}, "f", True)
    assert query_bool({"f": []}, "f", True)
    assert not query_bool({"f": ["false", "true"]}, "f")


def test_numbers_parse_as_strconv_parseint() -> None:
    assert query_int({"n": ["+12", "x"]}, "n") == 12
    assert query_int({"n": ["-3"]}, "n") == -3
    assert query_int({}, "n") is None
    with pytest.raises(ApiError, match='strconv.ParseInt: parsing "1.5": invalid syntax'):
        query_int({"n": ["1.5"]}, "n")
    with pytest.raises(ApiError, match='parsing "9223372036854775808": value out of range'):
        query_int({"n": ["9223372036854775808"]}, "n")
    assert query_int({"n": ["-9223372036854775808"]}, "n") == -2**63


def test_strings_are_the_first_value() -> None:
    assert query_str({"c": ["a", "b"]}, "c") == "a"
    assert query_str({}, "c") == ""
