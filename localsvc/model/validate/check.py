"""The checks every rule builds on, with the API server's wording.

`Check` collects the problems of one manifest and checks a value's shape (mapping, list, string,
integer, port, IP, quantity, ...): each returns the value when it is right, else records a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from localsvc.errors import Problem
from localsvc.model import names
from localsvc.model.load import Manifest, child_path
from localsvc.model.shown import show as show  # re-exported: the validators import it here


T = TypeVar("T")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Check:
    """The problems of one manifest, collected with its file, line, kind and name."""

    m: Manifest
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str, line_path: str | None = None) -> None:
        """Record a problem at `path` (on the line of `line_path` when given, e.g. the cause)."""
        line = self.m.line_of(path if line_path is None else line_path)
        self.problems.append(Problem(self.m.file, line, self.m.kind, self.m.name, path, message))

    def unique(self, name: str, path: str, seen: dict[str, str], what: str,
               rule: str = "") -> None:
        """Note that `name` stands at `path`; a name already in `seen` is a problem that names
        where it was first (`what`: e.g. "port name"; `rule`: what the API requires)."""
        if name in seen:
            self.add(path, f"duplicate {what} {show(name)} (also at {seen[name]}){rule}")
        seen.setdefault(name, path)

    # -- shapes: each returns the value when it has the right type, else None (problem added)

    def _typed(self, value: Any, path: str, required: bool, kind: type[T], what: str) -> T | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, kind):
            self.add(path, f"must be {what} (got {show(value)})")
            return None
        return value

    def mapping(self, value: Any, path: str, required: bool = False) -> dict[str, Any] | None:
        return self._typed(value, path, required, dict, "a mapping")

    def items(self, value: Any, path: str, required: bool = False) -> list[Any] | None:
        return self._typed(value, path, required, list, "a list")

    def mappings(self, value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        """The (path, mapping) of each item of an optional list of mappings."""
        out: list[tuple[str, dict[str, Any]]] = []
        for index, item in enumerate(self.items(value, path) or []):
            item_path = child_path(path, index)
            checked = self.mapping(item, item_path, required=True)
            if checked is not None:
                out.append((item_path, checked))
        return out

    def string(self, value: Any, path: str, required: bool = False, hint: str = "") -> str | None:
        if value is None or (required and value == ""):
            if required:
                self.add(path, f"required{hint}")
            return None
        if not isinstance(value, str):
            quote = "; quote it" if isinstance(value, (int, float, bool)) else ""
            self.add(path, f"must be a string{quote} (got {show(value)})")
            return None
        return value

    def integer(
        self,
        value: Any,
        path: str,
        low: int | None = None,
        high: int | None = None,
        required: bool = False,
    ) -> int | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not is_int(value):
            self.add(path, f"must be an integer (got {show(value)})")
            return None
        if low is not None and high is not None and not low <= value <= high:
            self.add(path, f"must be between {low} and {high}, inclusive (got {value})")
        elif low is not None and value < low:
            self.add(path, f"must be greater than or equal to {low} (got {value})")
        return int(value)

    def boolean(self, value: Any, path: str) -> None:
        if value is not None and not isinstance(value, bool):
            self.add(path, f"must be true or false (got {show(value)})")

    def one_of(
        self, value: Any, path: str, allowed: Sequence[str], required: bool = False
    ) -> str | None:
        text = self.string(value, path, required)
        if text is not None and text not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            self.add(path, f"must be one of {choices} (got {show(text)})")
            return None
        return text

    def name(
        self, value: Any, path: str, rule: Callable[[str], str | None], required: bool = True
    ) -> str | None:
        text = self.string(value, path, required)
        if text is None or (not required and text == ""):
            return None
        error = rule(text)
        if error:
            self.add(path, error)
            return None
        return text

    def port(self, value: Any, path: str, required: bool = True) -> int | None:
        return self.integer(value, path, 1, 65535, required)

    def int_or_port_name(self, value: Any, path: str, required: bool = True) -> None:
        if isinstance(value, str):
            if value.isdigit():
                self.add(
                    path,
                    f"must be a port number or a port name (got the string "
                    f"{show(value)}; remove the quotes for a number)",
                )
            elif error := names.iana_svc_name_error(value):
                self.add(path, f"a port name {error}")
        elif value is not None or required:
            self.port(value, path, required)

    def protocol(self, value: Any, path: str) -> None:
        if value == "SCTP":
            self.add(path, "SCTP is not supported by localsvc; use TCP or UDP")
        else:
            self.one_of(value, path, ("TCP", "UDP"))

    def exactly_one(
        self, obj: dict[str, Any], path: str, fields: Sequence[str], what: str
    ) -> str | None:
        present = [f for f in fields if obj.get(f) is not None]
        if not present:
            self.add(path, f"must specify {what}: one of {', '.join(fields)}")
            return None
        if len(present) > 1:
            self.add(
                child_path(path, present[1]),
                f"may not be specified together with {present[0]}; give exactly one of "
                f"{', '.join(fields)}",
            )
            return None
        return present[0]

    def labels(self, value: Any, path: str) -> dict[str, str]:
        """A label map (metadata.labels, a selector): keys qualified names, values label values."""
        out: dict[str, str] = {}
        for key, item in (self.mapping(value, path) or {}).items():
            item_path = child_path(path, key)
            if error := names.qualified_name_error(key):
                self.add(item_path, f"label key {error}")
            text = self.string(item, item_path)
            if text is not None:
                if error := names.label_value_error(text):
                    self.add(item_path, error)
                out[key] = text
        return out


def check_quantity(check: Check, value: Any, path: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        check.add(path, f"{names.QUANTITY_MSG} (got {show(value)})")
        return
    number = names.parse_quantity(str(value))
    if number is None:
        check.add(path, f"{names.QUANTITY_MSG} (got {show(value)})")
    elif number < 0:
        check.add(path, f"must be greater than or equal to 0 (got {show(value)})")
