"""Which objects an object command (get, delete) names, kubectl-style. Pure.

`KIND [NAME...]`, `KIND1,KIND2`, `all`, or `KIND/NAME [KIND/NAME...]`; kinds by any of their
names (`po`, `deploy`, `svc`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from localsvc.host.commands.common import UsageError
from localsvc.host.kubepaths import KNOWN as KNOWN  # re-exported: the CLI's messages name it
from localsvc.host.kubepaths import known_kinds as known_kinds  # re-exported too
from localsvc.host.kubepaths import resolve_kind as resolve_kind  # re-exported too
from localsvc.host.kubepaths import served
from localsvc.model.kubeapi.resources import by_kind_name


# What `get all` lists: the resources of the "all" category, in the API's discovery order (as
# kubectl expands it).
ALL_KINDS = tuple(r.kind for r in served() if "all" in r.categories)


@dataclass(frozen=True)
class Request:
    """One kind and the names asked for (empty: every object of the kind)."""

    kind: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requests:
    items: tuple[Request, ...]
    show_kind: bool  # several kinds: tables prefix names with the kind, as kubectl does

    @property
    def named(self) -> bool:
        return any(r.names for r in self.items)


def scalable_kind(text: str) -> str | None:
    """The kind `text` names when `scale` applies to it (a scale subresource; not ReplicaSets:
    localsvc's are its Deployments' own, whose controller sets their replicas); None otherwise.
    LocalsvcError for an unknown type."""
    kind = resolve_kind(text)
    resource = by_kind_name(kind)
    scalable = resource is not None and resource.subresource("scale") is not None
    return kind if scalable and kind != "ReplicaSet" else None


def parse_requests(words: Sequence[str], command: str) -> Requests:
    """The objects named by get/delete's positional arguments."""
    if not words:
        raise UsageError(f"{command} needs a resource type, e.g. `localsvc {command} pods`, "
                         f"`{command} deploy/web`, `{command} pods,svc` (types: {KNOWN})")
    if "/" in words[0]:
        return _slash_form(words, command)
    kinds = [k for k in words[0].split(",") if k]
    if not kinds:
        raise UsageError(f"{command}: resource type missing in {words[0]!r}")
    resolved: list[str] = []
    for text in kinds:
        for kind in ALL_KINDS if text == "all" else (resolve_kind(text),):
            if kind not in resolved:
                resolved.append(kind)
    names = tuple(words[1:])
    for name in names:
        if "/" in name:
            raise UsageError(f"{command}: there is no need to specify a resource type as a "
                             f"separate argument when passing arguments in resource/name form "
                             f"(got {words[0]} {name})")
    if names and len(resolved) > 1:
        raise UsageError(f"{command}: names ({', '.join(names)}) need a single resource type, "
                         f"or the KIND/NAME form (e.g. pod/a svc/b)")
    show_kind = len(resolved) > 1 or words[0] == "all"
    return Requests(tuple(Request(k, names) for k in resolved), show_kind)


def _slash_form(words: Sequence[str], command: str) -> Requests:
    grouped: dict[str, list[str]] = {}
    for word in words:
        kind_text, slash, name = word.partition("/")
        if not slash or not kind_text or not name:
            raise UsageError(f"{command}: arguments in resource/name form must all be "
                             f"KIND/NAME (got {word!r})")
        names = grouped.setdefault(resolve_kind(kind_text), [])
        if name not in names:
            names.append(name)
    items = tuple(Request(k, tuple(v)) for k, v in grouped.items())
    return Requests(items, show_kind=len(items) > 1)
