"""`localsvc get` and `localsvc delete` by name or selector: object commands, kubectl-style."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from localsvc.host.commands.common import UsageError, environment, error, print_results, say
from localsvc.host.commands.resources import Requests, parse_requests
from localsvc.errors import NotFound
from localsvc.model.labelselector import LabelSelector, parse_selector

Obj = dict[str, Any]


@dataclass
class Found:
    """What a get found: objects per kind (in request order), and the names that were missing."""

    groups: list[tuple[str, list[Obj]]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[Obj]:
        return [o for _, objs in self.groups for o in objs]


@dataclass(frozen=True)
class Format:
    output: str | None = None  # None (table), wide, json, yaml, name
    all_namespaces: bool = False
    namespace: str = "default"
    show_kind: bool = False
    no_headers: bool = False
    show_labels: bool = False
    single: bool = False  # exactly one object asked for by name: json/yaml print it, not a List


def format_get(found: Found, fmt: Format) -> tuple[str | None, str | None]:
    """(stdout, stderr note) of a get. Pure. An empty result is an empty List in json/yaml,
    nothing with -o name, and "No resources found" only for the tables (as kubectl)."""
    from localsvc.host.output import render, render_list, render_one

    items = found.items
    if fmt.output in ("json", "yaml"):
        if fmt.single and len(items) == 1:
            return render_one(items[0], fmt.output), None
        return render_list(items, fmt.output), None
    if fmt.output == "name":
        return ("\n".join(render(k, objs, "name", False) for k, objs in found.groups if objs)
                or None), None
    if not items:
        if found.missing:
            return None, None
        from localsvc.model.objects import NAMESPACED  # see resources.resolve_kind: off start-up

        namespaced = any(kind in NAMESPACED for kind, _ in found.groups)
        where = f" in {fmt.namespace} namespace" if namespaced and not fmt.all_namespaces else ""
        return None, f"No resources found{where}."
    tables = [render(kind, objs, fmt.output, fmt.all_namespaces, show_kind=fmt.show_kind,
                     no_headers=fmt.no_headers, show_labels=fmt.show_labels)
              for kind, objs in found.groups if objs]
    return "\n\n".join(tables), None


def selector_of(args: argparse.Namespace) -> LabelSelector | None:
    text = getattr(args, "selector", None)
    return parse_selector(text) if text is not None else None


def selector_text(args: argparse.Namespace) -> str | None:
    """The `-l` text, once selector_of has checked it (the API parses the same syntax)."""
    text = getattr(args, "selector", None)
    return str(text) if text is not None else None


def fetch(env: Any, requests: Requests, namespace: str | None, selector: str | None) -> Found:
    """Ask the node for the requested objects; a missing name is noted, not fatal. `selector`:
    the label selector text (already checked by selector_of), which the API applies."""
    found = Found()
    for request in requests.items:
        objs: list[Obj] = []
        if request.names:
            for name in request.names:
                try:
                    objs += env.get(request.kind, name, namespace or "default")
                except NotFound as err:
                    found.missing.append(str(err))
        else:
            objs = env.get(request.kind, None, namespace, selector=selector)
        found.groups.append((request.kind, objs))
    return found


def cmd_get(args: argparse.Namespace) -> int:
    requests = parse_requests(args.resources, "get")
    selector = selector_of(args)
    if selector is not None and requests.named:
        raise UsageError("get: names cannot be given together with a selector (-l)")
    env = environment(args)
    namespace = None if args.all_namespaces else args.namespace
    found = fetch(env, requests, namespace, selector_text(args))
    names = sum(len(r.names) for r in requests.items)
    fmt = Format(args.output, bool(args.all_namespaces), args.namespace, requests.show_kind,
                 args.no_headers, args.show_labels, single=names == 1)
    out, note = format_get(found, fmt)
    for message in found.missing:
        error(message)
    if out is not None:
        print(out)
    if note is not None:
        say(note)
    return 1 if found.missing else 0


DELETE_FORMS = ("-f FILE, KIND NAME..., KIND/NAME..., KIND -l SELECTOR or KIND --all "
                "(e.g. delete pod web-1)")


def cmd_delete(args: argparse.Namespace) -> int:
    if args.filename:
        if args.resources or args.selector is not None or args.all:
            raise UsageError("delete: give either -f FILES or KIND NAME..., not both")
        env = environment(args)
        deleted = env.delete(args.filename)
        print_results(deleted)
        return 1 if any(r["action"] == "not found" for r in deleted) else 0
    if not args.resources:
        raise UsageError(f"delete needs what to delete: {DELETE_FORMS}")
    requests = parse_requests(args.resources, "delete")
    selector = selector_of(args)
    if requests.named and (selector is not None or args.all):
        raise UsageError("delete: names cannot be given together with -l or --all")
    if not requests.named and selector is None and not args.all:
        raise UsageError(f"delete needs what to delete: {DELETE_FORMS}")
    env = environment(args)
    namespace = None if args.all_namespaces else args.namespace
    results: list[Obj] = []
    if requests.named:
        for request in requests.items:
            results += env.delete_objects(request.kind, list(request.names), args.namespace)
    else:
        found = fetch(env, requests, namespace, selector_text(args))
        for kind, objs in found.groups:
            for ns, names in _by_namespace(kind, objs).items():
                results += env.delete_objects(kind, names, ns)
        if not results:
            where = "" if namespace is None else f" in {namespace} namespace"
            say(f"No resources found{where}.")
    print_results(results)
    return 1 if any(r["action"] == "not found" for r in results) else 0


def _by_namespace(kind: str, objs: Sequence[Obj]) -> dict[str, list[str]]:
    from localsvc.model.objects import NAMESPACED  # see resources.resolve_kind: off start-up

    out: dict[str, list[str]] = {}
    for o in objs:
        ns = (o["metadata"].get("namespace") or "default") if kind in NAMESPACED else "default"
        out.setdefault(ns, []).append(o["metadata"]["name"])
    return out

