"""Which objects an object command (get, delete) names, kubectl-style. Pure.

`KIND [NAME...]`, `KIND1,KIND2`, `all`, or `KIND/NAME [KIND/NAME...]`; kinds by any of their
names (`po`, `deploy`, `svc`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from localsvc.host.commands.common import UsageError
from localsvc.errors import LocalsvcError

from localsvc.model.kubeapi.resources import RESOURCES, Resource, by_kind_name


def _served() -> list[Resource]:
    """Each resource the API serves once (events are served by two groups)."""
    seen: dict[str, Resource] = {}
    for resource in RESOURCES:
        seen.setdefault(resource.plural, resource)
    return list(seen.values())


def known_kinds(short_sep: str = " ({})") -> str:
    """The resource types commands accept, from the API's resource table (model/kubeapi/
    resources.py), those of `get all` first: "pods (po), ..." (or "pods|po" with
    short_sep="|{}")."""
    served = sorted(_served(), key=lambda r: "all" not in r.categories)  # stable: API order
    return ", ".join(r.plural + "".join(short_sep.format(s) for s in r.short_names)
                     for r in served)


# What `get all` lists: the resources of the "all" category, in the API's discovery order (as
# kubectl expands it).
ALL_KINDS = tuple(r.kind for r in _served() if "all" in r.categories)
KNOWN = known_kinds()


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


def resolve_kind(text: str) -> str:
    # Imported here: localsvc.model.objects loads the YAML machinery (~50 ms), which the
    # parser's import of the command modules (every --help and shell completion) need not pay.
    from localsvc.model.objects import kind_of

    kind = kind_of(text)
    if kind is None:
        raise LocalsvcError(f'unknown resource type "{text}"; localsvc knows {KNOWN}')
    return kind


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
