"""Tests of localsvc.model.names: name syntax predicates, their explanations, sanitize_name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from localsvc.model import names


@pytest.mark.parametrize(
    ("predicate", "value", "expected"),
    [
        (names.is_dns1123_label, "backend", True),
        (names.is_dns1123_label, "web-1", True),
        (names.is_dns1123_label, "1web", True),
        (names.is_dns1123_label, "a" * 63, True),
        (names.is_dns1123_label, "a" * 64, False),
        (names.is_dns1123_label, "Backend_1", False),
        (names.is_dns1123_label, "-web", False),
        (names.is_dns1123_label, "web-", False),
        (names.is_dns1123_label, "a.b", False),
        (names.is_dns1123_label, "", False),
        (names.is_dns1123_subdomain, "api.example.com", True),
        (names.is_dns1123_subdomain, "backend", True),
        (names.is_dns1123_subdomain, ".example.com", False),
        (names.is_dns1123_subdomain, "a..b", False),
        (names.is_dns1123_subdomain, "Example.com", False),
        (names.is_dns1123_subdomain, ".".join(["a" * 63] * 4), False),  # 255 characters
        (names.is_dns1123_subdomain, ".".join(["a" * 63] * 3 + ["a" * 61]), True),
        (names.is_dns1035_label, "web", True),
        (names.is_dns1035_label, "w-1", True),
        (names.is_dns1035_label, "1web", False),
        (names.is_dns1035_label, "web.svc", False),
        (names.is_iana_svc_name, "http", True),
        (names.is_iana_svc_name, "http-alt", True),
        (names.is_iana_svc_name, "h2c", True),
        (names.is_iana_svc_name, "a" * 15, True),
        (names.is_iana_svc_name, "a" * 16, False),
        (names.is_iana_svc_name, "8080", False),
        (names.is_iana_svc_name, "-http", False),
        (names.is_iana_svc_name, "http-", False),
        (names.is_iana_svc_name, "http--alt", False),
        (names.is_iana_svc_name, "HTTP", False),
        (names.is_iana_svc_name, "http_alt", False),
        (names.is_qualified_name, "app", True),
        (names.is_qualified_name, "app.kubernetes.io/name", True),
        (names.is_qualified_name, "My_Key.v2", True),
        (names.is_qualified_name, "example.com/" + "a" * 63, True),
        (names.is_qualified_name, "example.com/" + "a" * 64, False),
        (names.is_qualified_name, "/name", False),
        (names.is_qualified_name, "Example.com/name", False),
        (names.is_qualified_name, "a/b/c", False),
        (names.is_qualified_name, "example.com/", False),
        (names.is_qualified_name, "-app", False),
        (names.is_qualified_name, "", False),
        (names.is_label_value, "", True),
        (names.is_label_value, "v1.2_3-x", True),
        (names.is_label_value, "a" * 64, False),
        (names.is_label_value, "has space", False),
        (names.is_label_value, "_x", False),
        (names.is_env_var_name, "DB_HOST", True),
        (names.is_env_var_name, "app.port", True),
        (names.is_env_var_name, "_x-1", True),
        (names.is_env_var_name, "1FOO", False),
        (names.is_env_var_name, "A=B", False),
        (names.is_env_var_name, "..x", False),
        (names.is_env_var_name, "", False),
        (names.is_config_key, "app.properties", True),
        (names.is_config_key, "1", True),
        (names.is_config_key, "a/b", False),
        (names.is_config_key, "..", False),
        (names.is_config_key, "a" * 254, False),
        (names.is_quantity, "500m", True),
        (names.is_quantity, "0.5", True),
        (names.is_quantity, "128Mi", True),
        (names.is_quantity, "1e3", True),
        (names.is_quantity, ".5", True),
        (names.is_quantity, "1G", True),
        (names.is_quantity, "128MB", False),
        (names.is_quantity, "1.2.3", False),
        (names.is_quantity, "", False),
    ],
)
def test_predicates(predicate: object, value: str, expected: bool) -> None:
    assert callable(predicate)
    assert predicate(value) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("128Mi", Decimal(128 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("2", Decimal(2)),
        ("nonsense", None),
    ],
)
def test_parse_quantity(text: str, expected: Decimal | None) -> None:
    assert names.parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My App_2", "my-app-2"),
        ("backend", "backend"),
        ("  --Hello, World!--  ", "hello-world"),
        ("___", "default"),
        ("", "default"),
        ("Ünïcode Dir", "n-code-dir"),
        ("a" * 50, "a" * 40),
        ("abc-" + "d" * 60, "abc-" + "d" * 36),
    ],
)
def test_sanitize_name(text: str, expected: str) -> None:
    result = names.sanitize_name(text)
    assert result == expected
    assert names.is_dns1123_label(result)


def test_sanitize_name_does_not_end_with_a_hyphen_after_truncation() -> None:
    assert names.sanitize_name("abcd-efgh", max_len=5) == "abcd"


@pytest.mark.parametrize(
    ("explain", "value", "expected"),
    [
        (names.dns1123_label_error, "web", None),
        (
            names.dns1123_label_error,
            "Backend_1",
            (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                "'-', and must start and end with an alphanumeric character (got \"Backend_1\")"
            ),
        ),
        (names.dns1123_label_error, "a" * 64, "must be no more than 63 characters (got 64)"),
        (names.iana_svc_name_error, "8080", 'must contain at least one letter (a-z) (got "8080")'),
        (names.iana_svc_name_error, "a--b", 'must not contain consecutive hyphens (got "a--b")'),
        (
            names.qualified_name_error,
            "Bad.Prefix/x",
            (
                "prefix part: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character "
                '(got "Bad.Prefix")'
            ),
        ),
        (
            names.env_var_name_error,
            "..",
            "must not be '.' or '..' and must not start with '..' (got \"..\")",
        ),
    ],
)
def test_explanations(explain: object, value: str, expected: str | None) -> None:
    assert callable(explain)
    assert explain(value) == expected


ZONE = "must be an IP address without a zone (the part from '%')"
IPV4_ONLY = "must be an IPv4 address: localsvc environments use IPv4 only"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.210.0.5", None),
        ("192.168.1.1", None),
        ("fd00::1%eth0", f'{ZONE} (got "fd00::1%eth0")'),
        ("10.0.0.1%0", f'{ZONE} (got "10.0.0.1%0")'),
        ("fd00::1", f'{IPV4_ONLY} (got "fd00::1")'),
        ("::ffff:10.0.0.1", f'{IPV4_ONLY} (got "::ffff:10.0.0.1")'),
        ("0.0.0.0", 'may not be unspecified (0.0.0.0) (got "0.0.0.0")'),
        ("127.1.2.3", 'may not be in the loopback range (127.0.0.0/8) (got "127.1.2.3")'),
        ("169.254.0.1", 'may not be in the link-local range (169.254.0.0/16) (got "169.254.0.1")'),
        ("224.0.0.1", 'may not be a multicast address (224.0.0.0/4) (got "224.0.0.1")'),
        ("010.1.1.1", 'must be an IP address (got "010.1.1.1")'),
        ("db", 'must be an IP address (got "db")'),
    ],
)
def test_address_problem(value: str, expected: str | None) -> None:
    assert names.address_problem(value) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("X-Probe", True),
        ("x1", True),
        ("X_Probe", False),
        ("X Probe", False),
        ("X:", False),
        ("", False),
    ],
)
def test_http_header_name_error(value: str, ok: bool) -> None:
    assert (names.http_header_name_error(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("/healthz?x=1", True), ("", True), ("/a\rb", False), ("/a\nb", False), ("/a\0", False)],
)
def test_line_break_error(value: str, ok: bool) -> None:
    assert (names.line_break_error(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("10.1.2.3", True),
        ("fd00::1", True),
        ("db.example.com", True),
        ("DB.Example.com.", True),  # DNS names are case-insensitive; a trailing dot is absolute
        ("fd00::1%eth0", False),
        ("a b", False),
        ("x\r\nHost: y", False),
        ("under_score", False),
    ],
)
def test_host_error(value: str, ok: bool) -> None:
    assert (names.host_error(value) is None) is ok
