"""Label selectors as kubectl's `-l/--selector` takes them, and as Deployments carry them. Pure.

Text syntax (the Kubernetes one): requirements separated by commas, each one of
`key=value`, `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key` (exists),
`!key` (does not exist), `key>N`, `key<N` (integer comparison). Every requirement must hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.errors import LocalsvcError
from localsvc.model.names import label_value_error, qualified_name_error

EQUALS, NOT_EQUALS, IN, NOT_IN, EXISTS, NOT_EXISTS, GREATER, LESS = (
    "=", "!=", "in", "notin", "exists", "!", ">", "<")
# The operators of a Kubernetes selector's matchExpressions, as Requirement operators.
KUBERNETES_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": NOT_EXISTS}

# One token at a time: an identifier-ish word, or one of the operators and punctuation.
_OPERATORS = ("=", "==", "!=", "!", "(", ")", ",", ">", "<")  # tokens that are not words
_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|>|<|[^\s=!(),<>]+)")


class SelectorError(LocalsvcError):
    """A selector that does not parse; the message shows where and what is expected."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == EQUALS:
            return value == self.values[0]
        if self.operator == NOT_EQUALS:
            return value != self.values[0]  # an absent key is "not equal", as in Kubernetes
        if self.operator == IN:
            return value in self.values
        if self.operator == NOT_IN:
            return value not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == NOT_EXISTS:
            return not present
        if value is None or not _is_int(value):
            return False
        number, bound = int(value), int(self.values[0])
        return number > bound if self.operator == GREATER else number < bound

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == NOT_EXISTS:
            return f"!{self.key}"
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{self.operator}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    """Every requirement must hold; no requirement selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?[0-9]+", text))


def parse_selector(text: str) -> LabelSelector:
    """`a=b,c!=d,e in (x,y),f notin (z),g,!h` -> LabelSelector; SelectorError when malformed."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            found = _TOKEN.match(text, position)
            if found is None:  # unreachable with this pattern, kept for safety of the loop
                self.fail(position, "unexpected character")
            assert found is not None
            self.tokens.append((found.group(1), found.start(1)))
            position = found.end()
        self.index = 0

    def fail(self, position: int, expected: str) -> None:
        raise SelectorError(
            f'label selector "{self.text}": {expected} at character {position + 1}; the syntax is '
            "key=value, key!=value, key in (a,b), key notin (a,b), key, !key, joined by commas"
        )

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def position(self) -> int:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)

    def take(self) -> str:
        token = self.tokens[self.index][0]
        self.index += 1
        return token

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        if self.peek() is None:
            return LabelSelector()
        while True:
            requirements.append(self.requirement())
            if self.peek() is None:
                return LabelSelector(tuple(requirements))
            if self.peek() != ",":
                self.fail(self.position(), "expected ',' or the end")
            self.take()

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.take()
            return Requirement(self.key(), NOT_EXISTS)
        key = self.key()
        operator = self.peek()
        if operator is None or operator == ",":
            return Requirement(key, EXISTS)
        start = self.position()
        self.take()
        if operator in ("=", "=="):
            return Requirement(key, EQUALS, (self.value(allow_empty=True),))
        if operator == "!=":
            return Requirement(key, NOT_EQUALS, (self.value(allow_empty=True),))
        if operator in (">", "<"):
            bound = self.value(allow_empty=False)
            if not _is_int(bound):
                self.fail(start + 1, f"expected an integer after '{operator}'")
            return Requirement(key, GREATER if operator == ">" else LESS, (bound,))
        if operator in ("in", "notin"):
            return Requirement(key, IN if operator == "in" else NOT_IN, self.value_set())
        self.fail(start, "expected =, ==, !=, in, notin, >, < or ','")
        raise AssertionError  # fail() raised

    def key(self) -> str:
        return self.word("key", qualified_name_error, allow_empty=False)

    def value(self, allow_empty: bool) -> str:
        return self.word("value", label_value_error, allow_empty)

    def word(self, what: str, error: Callable[[str], str | None], allow_empty: bool) -> str:
        """The next token as a label key or value, checked by `error`."""
        start = self.position()
        token = self.peek()
        if token is None or token in _OPERATORS:
            if allow_empty and token in (None, ","):
                return ""  # `key=` selects an empty value, as in Kubernetes
            self.fail(start, f"expected a label {what}")
        word = self.take()
        problem = error(word)
        if problem:
            self.fail(start, f"invalid label {what} {word!r}: {problem}")
        return word

    def value_set(self) -> tuple[str, ...]:
        if self.peek() != "(":
            self.fail(self.position(), "expected '(' to open the set of values")
        self.take()
        values: list[str] = []
        while True:
            if self.peek() == ")" and not values:
                self.fail(self.position(), "expected at least one value in the set")
            values.append(self.value(allow_empty=False))
            token = self.peek()
            if token == ")":
                self.take()
                return tuple(values)
            if token != ",":
                self.fail(self.position(), "expected ',' or ')' in the set of values")
            self.take()


def from_kubernetes(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A Deployment's `spec.selector` (matchLabels and matchExpressions) as a LabelSelector."""
    selector = selector or {}
    requirements = [Requirement(str(k), EQUALS, (str(v),))
                    for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        operator = KUBERNETES_OPERATORS[str(expression["operator"])]
        values = tuple(str(v) for v in expression.get("values") or ())
        requirements.append(Requirement(str(expression["key"]), operator, values))
    return LabelSelector(tuple(requirements))
