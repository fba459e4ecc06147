"""The State's applied objects (key -> object) with an index by kind kept in step.

The sync loop asks for all objects of a kind several times per sync (every WorkloadStep, bare
Pods, the claims); with thousands of stored objects a scan of all keys per question cost more
than the rest of the sync. Every change of the table goes through the methods below, so the index
is never stale, whoever assigns (an apply, a made object, a removal, a staged apply's copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def kind_of_key(key: str) -> str:
    return key.split("/", 1)[0]


class ObjectTable(dict[str, Obj]):
    """A dict of stored objects by key ("Kind/namespace/name") that also keeps kind -> key ->
    object. `of_kind` is a view: callers copy it before changing the table while iterating."""

    def __init__(self, items: Mapping[str, Obj] | Iterable[tuple[str, Obj]] = ()) -> None:
        super().__init__()
        self.update(items)

    def _kinds(self) -> dict[str, dict[str, Obj]]:
        # Created on first use: copy/pickle rebuild a dict subclass without calling __init__.
        kinds: dict[str, dict[str, Obj]] | None = self.__dict__.get("_by_kind")
        if kinds is None:
            kinds = {}
            for key, obj in dict.items(self):
                kinds.setdefault(kind_of_key(key), {})[key] = obj
            self.__dict__["_by_kind"] = kinds
        return kinds

    def __reduce__(self) -> tuple[Any, ...]:
        # copy, deepcopy and pickle build a new table (and index) from the items: the default
        # would share the index of the original with the copy.
        return (ObjectTable, (dict(self),))

    def of_kind(self, kind: str) -> Mapping[str, Obj]:
        return self._kinds().get(kind) or {}

    def __setitem__(self, key: str, obj: Obj) -> None:
        kinds = self._kinds()
        super().__setitem__(key, obj)
        kinds.setdefault(kind_of_key(key), {})[key] = obj

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def _unindex(self, key: str) -> None:
        kinds = self._kinds()
        kind = kind_of_key(key)
        table = kinds.get(kind)
        if table is not None:
            table.pop(key, None)
            if not table:
                del kinds[kind]

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            obj = super().pop(key)
            self._unindex(key)
            return obj
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Obj]:
        key, obj = super().popitem()
        self._unindex(key)
        return key, obj

    def setdefault(self, key: str, default: Obj) -> Obj:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Obj) -> None:
        for key, obj in dict(*args, **kwargs).items():
            self[key] = obj

    def __ior__(self, other: Any) -> ObjectTable:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        super().clear()
        self.__dict__["_by_kind"] = {}


__all__ = ["ObjectTable", "kind_of_key"]
