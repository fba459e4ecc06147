"""Name and value syntax of the Kubernetes API: DNS labels, label keys, port names, quantities.

This module owns the predicates (`is_*`), the Kubernetes-style explanations of why a value fails
(`*_error`, and `address_problem` for endpoint addresses; None when valid) and `sanitize_name`.
It is pure: no I/O, no knowledge of manifests.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation

from localsvc.model.shown import show

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
IANA_SVC_NAME_MAX = 15
QUALIFIED_NAME_MAX = 63
CONFIG_KEY_MAX = 253

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_IANA_SVC_NAME = re.compile(r"[-a-z0-9]+")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_HTTP_HEADER_NAME = re.compile(r"[-A-Za-z0-9]+")
# Characters that would end a line of an HTTP request or a C string: never in a probe's path
# or header, where they could split the request the prober writes into two.
_LINE_BREAKING = ("\r", "\n", "\0")
_QUANTITY = re.compile(
    r"(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_SUFFIX_FACTOR: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "
    "or '.', and must not start with a digit"
)
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
HTTP_HEADER_NAME_MSG = (
    "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name')"
)
QUANTITY_MSG = (
    "must be a quantity such as 500m, 1, 0.5 (cpu) or 128Mi, 1G, 1e3 (memory); "
    "a number with an optional suffix m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent>"
)


def _full(pattern: re.Pattern[str], s: str) -> bool:
    return pattern.fullmatch(s) is not None


def is_dns1123_label(s: str) -> bool:
    """True for a lowercase RFC 1123 label such as `backend-1` (at most 63 characters)."""
    return len(s) <= DNS1123_LABEL_MAX and _full(_DNS1123_LABEL, s)


def is_dns1123_subdomain(s: str) -> bool:
    """True for dot-separated RFC 1123 labels such as `api.example.com` (at most 253)."""
    return len(s) <= DNS1123_SUBDOMAIN_MAX and _full(_DNS1123_SUBDOMAIN, s)


def is_dns1035_label(s: str) -> bool:
    """True for an RFC 1035 label (a DNS-1123 label starting with a letter): Service names."""
    return len(s) <= DNS1123_LABEL_MAX and _full(_DNS1035_LABEL, s)


def is_iana_svc_name(s: str) -> bool:
    """True for an IANA service name as used for container port names, e.g. `http-alt`."""
    return iana_svc_name_error(s) is None


def is_qualified_name(s: str) -> bool:
    """True for a label or annotation key: `[prefix/]name`, prefix a DNS subdomain."""
    return qualified_name_error(s) is None


def is_label_value(s: str) -> bool:
    """True for a label value: empty, or at most 63 alphanumerics with '-', '_', '.' inside."""
    return s == "" or (len(s) <= QUALIFIED_NAME_MAX and _full(_QUALIFIED_NAME, s))


def is_env_var_name(s: str) -> bool:
    """True for an environment variable name Kubernetes accepts, e.g. `DB_HOST` or `app.port`."""
    return _full(_ENV_VAR_NAME, s) and not _is_dot_name(s)


def is_config_key(s: str) -> bool:
    """True for a ConfigMap/Secret key (it becomes a file name when mounted)."""
    return len(s) <= CONFIG_KEY_MAX and _full(_CONFIG_KEY, s) and not _is_dot_name(s)


def is_quantity(s: str) -> bool:
    """True for a Kubernetes resource quantity such as `500m`, `0.5`, `128Mi` or `1e3`."""
    return parse_quantity(s) is not None


def _is_dot_name(s: str) -> bool:
    return s in (".", "..") or s.startswith("..")


def parse_quantity(s: str) -> Decimal | None:
    """The value of a quantity (`128Mi` -> 134217728, `500m` -> 0.5), or None if malformed."""
    match = _QUANTITY.fullmatch(s)
    if match is None:
        return None
    suffix = match.group("suffix") or ""
    try:
        number = Decimal(match.group("num"))
        if suffix[:1] in ("e", "E"):
            return number * Decimal(10) ** int(suffix[1:])
        return number * _SUFFIX_FACTOR[suffix]
    except (InvalidOperation, OverflowError):
        return None


def _got(s: str) -> str:
    return f"(got {show(s)})"


def dns1123_label_error(s: str) -> str | None:
    """Why `s` is not a DNS-1123 label, in the API server's words; None when it is one."""
    if len(s) > DNS1123_LABEL_MAX:
        return f"must be no more than {DNS1123_LABEL_MAX} characters (got {len(s)})"
    return None if _full(_DNS1123_LABEL, s) else f"{DNS1123_LABEL_MSG} {_got(s)}"


def dns1123_subdomain_error(s: str) -> str | None:
    """Why `s` is not a DNS-1123 subdomain; None when it is one."""
    if len(s) > DNS1123_SUBDOMAIN_MAX:
        return f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters (got {len(s)})"
    return None if _full(_DNS1123_SUBDOMAIN, s) else f"{DNS1123_SUBDOMAIN_MSG} {_got(s)}"


def dns1035_label_error(s: str) -> str | None:
    """Why `s` is not a DNS-1035 label; None when it is one."""
    if len(s) > DNS1123_LABEL_MAX:
        return f"must be no more than {DNS1123_LABEL_MAX} characters (got {len(s)})"
    return None if _full(_DNS1035_LABEL, s) else f"{DNS1035_LABEL_MSG} {_got(s)}"


def iana_svc_name_error(s: str) -> str | None:
    """Why `s` is not an IANA service name (a port name); None when it is one."""
    if len(s) > IANA_SVC_NAME_MAX:
        return f'must be no more than {IANA_SVC_NAME_MAX} characters (got {len(s)}: {show(s)})'
    if not _full(_IANA_SVC_NAME, s):
        return f"must contain only lowercase alphanumeric characters or '-' {_got(s)}"
    if "--" in s:
        return f"must not contain consecutive hyphens {_got(s)}"
    if s.startswith("-") or s.endswith("-"):
        return f"must not begin or end with a hyphen {_got(s)}"
    if not any("a" <= c <= "z" for c in s):
        return f"must contain at least one letter (a-z) {_got(s)}"
    return None


def qualified_name_error(s: str) -> str | None:
    """Why `s` is not a label/annotation key (`[prefix/]name`); None when it is one."""
    prefix, slash, name = s.rpartition("/")
    if slash:
        if not prefix:
            return f"prefix part must be non-empty {_got(s)}"
        if not is_dns1123_subdomain(prefix):
            return f"prefix part: {dns1123_subdomain_error(prefix)}"
        if "/" in prefix:
            return f"a qualified name must have at most one '/' {_got(s)}"
    if not name:
        return f"name part must be non-empty {_got(s)}"
    if len(name) > QUALIFIED_NAME_MAX:
        return f"name part must be no more than {QUALIFIED_NAME_MAX} characters (got {len(name)})"
    return None if _full(_QUALIFIED_NAME, name) else f"{QUALIFIED_NAME_MSG} {_got(s)}"


def label_value_error(s: str) -> str | None:
    """Why `s` is not a label value; None when it is one."""
    if len(s) > QUALIFIED_NAME_MAX:
        return f"must be no more than {QUALIFIED_NAME_MAX} characters (got {len(s)})"
    return None if is_label_value(s) else f"{LABEL_VALUE_MSG} {_got(s)}"


def env_var_name_error(s: str) -> str | None:
    """Why `s` is not a valid environment variable name; None when it is one."""
    if _is_dot_name(s) and _full(_ENV_VAR_NAME, s):
        return f"must not be '.' or '..' and must not start with '..' {_got(s)}"
    return None if is_env_var_name(s) else f"{ENV_VAR_NAME_MSG} {_got(s)}"


def config_key_error(s: str) -> str | None:
    """Why `s` is not a ConfigMap/Secret key; None when it is one."""
    if len(s) > CONFIG_KEY_MAX:
        return f"must be no more than {CONFIG_KEY_MAX} characters (got {len(s)})"
    if _is_dot_name(s) and _full(_CONFIG_KEY, s):
        return f"must not be '.' or '..' and must not start with '..' {_got(s)}"
    return None if is_config_key(s) else f"{CONFIG_KEY_MSG} {_got(s)}"


def http_header_name_error(s: str) -> str | None:
    """Why `s` is not an HTTP header name Kubernetes accepts in a probe; None when it is one."""
    return None if _full(_HTTP_HEADER_NAME, s) else f"{HTTP_HEADER_NAME_MSG} {_got(s)}"


def line_break_error(s: str) -> str | None:
    """Why `s` may not go into one line of an HTTP request (CR, LF or NUL); None when it may."""
    if any(c in s for c in _LINE_BREAKING):
        return f"must not contain a carriage return, line feed or NUL character {_got(s)}"
    return None


def ip_address_error(s: str) -> str | None:
    """Why `s` is not a plain IPv4 or IPv6 address (zones such as `%eth0` excluded)."""
    if "%" in s:
        return f"must be an IP address without a zone (the part from '%') {_got(s)}"
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return f"must be an IP address {_got(s)}"
    return None


def address_problem(s: str) -> str | None:
    """Why `s` cannot be an endpoint address in a localsvc environment; None when it can.

    The API server's rules (a plain IP, not unspecified, loopback, link-local or multicast: such
    an address would reach the proxy itself or nothing) plus localsvc's own: environments are
    IPv4-only, so an IPv6 endpoint could never be reached.
    """
    if error := ip_address_error(s):
        return error
    address = ipaddress.ip_address(s)
    if address.version == 6:
        return f"must be an IPv4 address: localsvc environments use IPv4 only {_got(s)}"
    if address.is_unspecified:
        return f"may not be unspecified (0.0.0.0) {_got(s)}"
    if address.is_loopback:
        return f"may not be in the loopback range (127.0.0.0/8) {_got(s)}"
    if address.is_link_local:
        return f"may not be in the link-local range (169.254.0.0/16) {_got(s)}"
    if address.is_multicast:
        return f"may not be a multicast address (224.0.0.0/4) {_got(s)}"
    return None


def host_error(s: str) -> str | None:
    """Why `s` is neither an IP address nor a DNS name (a probe's `host`); None when it is one."""
    if ip_address_error(s) is None or is_dns1123_subdomain(s.lower().removesuffix(".")):
        return None
    return f'must be an IP address or a DNS name such as "db.example.com" {_got(s)}'


def sanitize_name(text: str, max_len: int = 40) -> str:
    """A valid DNS-1123 label made from any text: `"My App_2"` -> `"my-app-2"`.

    Lowercases, turns every run of other characters into one '-', trims '-' at both ends and
    truncates to `max_len` (at most 63). Never empty: falls back to `"default"`.
    """
    limit = max(1, min(max_len, DNS1123_LABEL_MAX))
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    label = label[:limit].rstrip("-")
    return label or "default"[:limit]
