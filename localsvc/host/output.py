"""How `get` prints objects: kubectl-like tables, or JSON/YAML of Kubernetes-shaped objects."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import yaml

from localsvc.model.kubeapi.resources import by_kind_name
from localsvc.model.kubeapi.tables import table as kube_table

Obj = dict[str, Any]


def table(rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def resource_name(kind: str, name: str) -> str:
    """`pod/web-x`, `deployment.apps/web`, `service/web`: kubectl's `-o name` spelling."""
    resource = by_kind_name(kind)
    group = resource.group if resource is not None else ""
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


def _cell(value: Any) -> str:
    """A Table cell as kubectl prints it (Go's %v: none -> <none>)."""
    if value is None:
        return "<none>"
    return str(value)


def render_list(items: list[Obj], fmt: str) -> str:
    """`-o json|yaml` of any number of objects (none included): a List, as kubectl prints it."""
    listing = {"apiVersion": "v1", "items": items, "kind": "List",
               "metadata": {"resourceVersion": ""}}
    if fmt == "json":
        return json.dumps(listing, indent=4)
    return str(yaml.safe_dump(listing, sort_keys=False)).rstrip("\n")


def _labels(o: Obj) -> str:
    labels = o["metadata"].get("labels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def render(kind: str, items: list[Obj], fmt: str | None, all_namespaces: bool, *,
           show_kind: bool = False, no_headers: bool = False, show_labels: bool = False) -> str:
    """One kind's objects in a `get` output format. show_kind prefixes names as `get all` does
    (`deployment.apps/web`); no_headers drops the header row; show_labels adds LABELS."""
    if fmt in ("json", "yaml"):
        return render_list(items, fmt)
    if fmt == "name":
        return "\n".join(resource_name(kind, o["metadata"]["name"]) for o in items)
    # The columns and cells of the API server's Table for the kind (model/kubeapi/tables.py),
    # the same ones kubectl prints: -o wide adds the priority-1 columns.
    printed = kube_table(kind, items, time.time(), include_object="None")
    wide = fmt == "wide"
    shown = [i for i, c in enumerate(printed["columnDefinitions"])
             if wide or c.get("priority", 0) == 0]
    head = [printed["columnDefinitions"][i]["name"].upper() for i in shown]
    rows = [[_cell(row["cells"][i]) for i in shown] for row in printed["rows"]]
    if show_kind:
        rows = [[resource_name(kind, r[0]), *r[1:]] for r in rows]
    if show_labels:
        head.append("LABELS")
        rows = [[*r, _labels(o)] for o, r in zip(items, rows, strict=True)]
    resource = by_kind_name(kind)
    if all_namespaces and (resource is None or resource.namespaced):  # (not pv, sc, nodes)
        head = ["NAMESPACE", *head]
        rows = [[o["metadata"].get("namespace", ""), *r] for o, r in zip(items, rows, strict=True)]
    return table(rows if no_headers else [head, *rows])


def render_one(item: Obj, fmt: str) -> str:
    """`get KIND NAME -o json|yaml` prints the object itself, not a List (as kubectl)."""
    if fmt == "json":
        return json.dumps(item, indent=4)
    return str(yaml.safe_dump(item, sort_keys=False)).rstrip("\n")
