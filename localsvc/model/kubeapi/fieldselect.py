"""fieldSelector: parse it as k8s.io/apimachinery/pkg/fields does and match objects. Pure.

A selector is comma-separated terms `field=value`, `field==value` or `field!=value`; a value
escapes `\\`, `,` and `=` with a backslash. Each kind supports only the fields its registry
exposes (the field label conversions of the 1.32 API server); any other field is refused with
the server's message. A field a kind supports but an object lacks matches as "" (fields.Set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class FieldSelectorError(ValueError):
    """A selector the API server refuses (400 BadRequest with this message)."""


@dataclass(frozen=True)
class Term:
    field: str
    value: str
    equal: bool  # False for !=

    def __str__(self) -> str:
        return f"{self.field}{'=' if self.equal else '!='}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """The terms of a selector, sorted as the server sorts them; all must hold (AND)."""

    terms: tuple[Term, ...]

    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all((fields.get(t.field, "") == t.value) == t.equal for t in self.terms)

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms)


_OPERATORS = ("!=", "==", "=")  # "==" before "=" so no "=" is left on the value


def parse(selector: str) -> FieldSelector:
    """The terms of `selector`; FieldSelectorError with the server's words when malformed."""
    terms: list[Term] = []
    for part in sorted(_split_terms(selector)):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise FieldSelectorError(
                f"invalid selector: '{selector}'; can't understand '{part}'")
        field, operator, raw = split
        terms.append(Term(field, unescape_value(raw), operator != "!="))
    return FieldSelector(tuple(terms))


def _split_terms(selector: str) -> list[str]:
    """Split on commas not escaped by a backslash (escapes stay in the terms)."""
    if not selector:
        return []
    terms: list[str] = []
    start = 0
    escaped = False
    for index, char in enumerate(selector):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(selector[start:index])
            start = index + 1
    terms.append(selector[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The field cannot be escaped: the first operator found splits the term."""
    for index in range(len(term)):
        for operator in _OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator):]
    return None


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    if not any(char in value for char in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise FieldSelectorError(
                    f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Go prints the rune with %v: its code point, e.g. 61 for "="
            raise FieldSelectorError(
                f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


# -- the fields each kind exposes (its registry's field set), as strings

FieldsOf = Callable[[Mapping[str, Any]], dict[str, str]]


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    pod_ips = _get(pod, "status", "podIPs") or []
    first_ip = pod_ips[0].get("ip", "") if pod_ips and isinstance(pod_ips[0], Mapping) else ""
    return {
        "spec.nodeName": _text(_get(pod, "spec", "nodeName")),
        "spec.restartPolicy": _text(_get(pod, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_get(pod, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_get(pod, "spec", "serviceAccountName")),
        "spec.hostNetwork": _text(bool(_get(pod, "spec", "hostNetwork"))),
        "status.phase": _text(_get(pod, "status", "phase")),
        "status.podIP": first_ip or _text(_get(pod, "status", "podIP")),
        "status.nominatedNodeName": _text(_get(pod, "status", "nominatedNodeName")),
    }


def _event_fields(event: Mapping[str, Any]) -> dict[str, str]:
    involved = {f"involvedObject.{key}": _text(_get(event, "involvedObject", key))
                for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                            "fieldPath")}
    return {
        **involved,
        "reason": _text(event.get("reason")),
        "reportingComponent": _text(event.get("reportingComponent")),
        "source": _text(_get(event, "source", "component") or event.get("reportingComponent")),
        "type": _text(event.get("type")),
    }


# kind -> (the labels its field label conversion accepts, the reader of their values). Labels a
# kind accepts but its field set lacks (pods' status.podIPs) match as "" on every object, as on
# the server; cluster-scoped Namespace and Node do not accept metadata.namespace.
_NAMESPACED = frozenset({"metadata.name", "metadata.namespace"})
_KIND_FIELDS: dict[str, tuple[frozenset[str], FieldsOf]] = {
    "Pod": (_NAMESPACED | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                           "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                           "status.podIP", "status.podIPs", "status.nominatedNodeName"},
            _pod_fields),
    "Event": (_NAMESPACED | {"involvedObject.kind", "involvedObject.namespace",
                             "involvedObject.name", "involvedObject.uid",
                             "involvedObject.apiVersion", "involvedObject.resourceVersion",
                             "involvedObject.fieldPath", "reason", "reportingComponent",
                             "source", "type"},
              _event_fields),
    "Secret": (_NAMESPACED | {"type"}, lambda o: {"type": _text(o.get("type"))}),
    "Service": (_NAMESPACED | {"spec.clusterIP", "spec.type"},
                lambda o: {"spec.clusterIP": _text(_get(o, "spec", "clusterIP")),
                           "spec.type": _text(_get(o, "spec", "type"))}),
    "Namespace": (frozenset({"metadata.name", "status.phase"}),
                  lambda o: {"status.phase": _text(_get(o, "status", "phase"))}),
    "Node": (frozenset({"metadata.name", "spec.unschedulable"}),
             lambda o: {"spec.unschedulable": _text(bool(_get(o, "spec", "unschedulable")))}),
    "ReplicaSet": (_NAMESPACED | {"status.replicas"},
                   lambda o: {"status.replicas": _text(_get(o, "status", "replicas") or 0)}),
}
_ALIASES = {("Pod", "spec.host"): "spec.nodeName"}  # old v1 clients' name, still accepted


def supported_fields(kind: str) -> frozenset[str]:
    extra = _KIND_FIELDS.get(kind)
    return extra[0] if extra else _NAMESPACED


def for_kind(kind: str, selector: FieldSelector) -> FieldSelector:
    """`selector` with its fields checked against `kind` (and old names converted)."""
    extra = _KIND_FIELDS.get(kind)
    terms: list[Term] = []
    for term in selector.terms:
        field = _ALIASES.get((kind, term.field), term.field)
        if extra is None and field not in _NAMESPACED:
            # runtime.DefaultMetaV1FieldSelectorConversion's words, for kinds without their own
            raise FieldSelectorError(f'"{field}" is not a known field selector: only '
                                     f'"metadata.name", "metadata.namespace"')
        if extra is not None and field not in extra[0]:
            raise FieldSelectorError(f"field label not supported: {field}")
        terms.append(Term(field, term.value, term.equal))
    return FieldSelector(tuple(terms))


def fields_of(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The field set of `obj` that selectors match (metadata.namespace only when namespaced)."""
    metadata = obj.get("metadata") or {}
    fields = {"metadata.name": _text(metadata.get("name"))}
    if metadata.get("namespace"):
        fields["metadata.namespace"] = _text(metadata.get("namespace"))
    extra = _KIND_FIELDS.get(kind)
    if extra is not None:
        fields.update(extra[1](obj))
    return fields


def compile_selector(kind: str, selector: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for the objects of `kind` that `selector` selects; FieldSelectorError else."""
    checked = for_kind(kind, parse(selector))
    if checked.empty():
        return lambda obj: True
    return lambda obj: checked.matches(fields_of(kind, obj))
