"""How `get` prints objects: kubectl-like tables, or JSON/YAML of Kubernetes-shaped objects."""

from __future__ import annotations

import json
import time
from calendar import timegm
from collections.abc import Callable, Sequence
from typing import Any

import yaml

Obj = dict[str, Any]


def age(timestamp: str | None, now: float | None = None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<unknown>"
    seconds = int((now if now is not None else time.time()) - then)
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def table(rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _pod_row(o: Obj, wide: bool) -> list[str]:
    from localsvc.host.podstatus import pod_reason

    st = o.get("status") or {}
    cs = st.get("containerStatuses") or []
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    row = [o["metadata"]["name"], f"{ready}/{len(cs)}", pod_reason(o), str(restarts),
           age(o["metadata"].get("creationTimestamp"))]
    if wide:
        row += [st.get("podIP") or "<none>", o["spec"].get("nodeName", "localsvc")]
    return row


def _ports(svc: Obj) -> str:
    ports = []
    for p in svc["spec"].get("ports") or []:
        text = str(p["port"])
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _svc_row(o: Obj, wide: bool) -> list[str]:
    spec = o["spec"]
    ingress = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    stype = spec.get("type", "ClusterIP")
    if stype == "ExternalName":
        external = spec.get("externalName", "")
    elif stype == "LoadBalancer":
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or "<pending>"
    else:
        external = ",".join(spec.get("externalIPs") or []) or "<none>"
    row = [o["metadata"]["name"], stype, spec.get("clusterIP") or "<none>", external, _ports(o),
           age(o["metadata"].get("creationTimestamp"))]
    if wide:
        selector = spec.get("selector") or {}
        row.append(",".join(f"{k}={v}" for k, v in selector.items()) or "<none>")
    return row


def _deploy_row(o: Obj, wide: bool) -> list[str]:
    st = o.get("status") or {}
    want = o["spec"].get("replicas", 1)
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{want}",
            str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0)),
            age(o["metadata"].get("creationTimestamp"))]


def _endpoints_row(o: Obj, wide: bool) -> list[str]:
    addrs = []
    for subset in o.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{"port": None}]:
                addrs.append(f"{a['ip']}:{p['port']}" if p.get("port") else a["ip"])
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [o["metadata"]["name"], shown or "<none>", age(o["metadata"].get("creationTimestamp"))]


def _slice_row(o: Obj, wide: bool) -> list[str]:
    ports = ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>"
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    return [o["metadata"]["name"], o.get("addressType", ""), ports, ",".join(addrs[:3]) or "<unset>",
            age(o["metadata"].get("creationTimestamp"))]


COLUMNS: dict[str, tuple[list[str], Callable[[Obj, bool], list[str]], list[str]]] = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], _pod_row, ["IP", "NODE"]),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], _svc_row,
                ["SELECTOR"]),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], _deploy_row, []),
    "Endpoints": (["NAME", "ENDPOINTS", "AGE"], _endpoints_row, []),
    "EndpointSlice": (["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], _slice_row, []),
    "Namespace": (["NAME", "STATUS", "AGE"], lambda o, w: [
        o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"),
        age(o["metadata"].get("creationTimestamp"))], []),
    "ConfigMap": (["NAME", "DATA", "AGE"], lambda o, w: [
        o["metadata"]["name"], str(len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        age(o["metadata"].get("creationTimestamp"))], []),
    "Secret": (["NAME", "TYPE", "DATA", "AGE"], lambda o, w: [
        o["metadata"]["name"], o.get("type", "Opaque"), str(len(o.get("data") or {})),
        age(o["metadata"].get("creationTimestamp"))], []),
}


# The API group kubectl names a kind with in `-o name` and kind-prefixed tables.
_GROUPS = {"Deployment": "apps", "EndpointSlice": "discovery.k8s.io"}


def resource_name(kind: str, name: str) -> str:
    """`pod/web-x`, `deployment.apps/web`, `service/web`: kubectl's `-o name` spelling."""
    group = _GROUPS.get(kind)
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


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
    header, row, wide_cols = COLUMNS[kind]
    wide = fmt == "wide"
    head = list(header) + (wide_cols if wide else [])
    rows = [row(o, wide) for o in items]
    if show_kind:
        rows = [[resource_name(kind, r[0]), *r[1:]] for r in rows]
    if show_labels:
        head.append("LABELS")
        rows = [[*r, _labels(o)] for o, r in zip(items, rows, strict=True)]
    if all_namespaces and kind != "Namespace":
        head = ["NAMESPACE", *head]
        rows = [[o["metadata"].get("namespace", ""), *r] for o, r in zip(items, rows, strict=True)]
    return table(rows if no_headers else [head, *rows])


def render_one(item: Obj, fmt: str) -> str:
    """`get KIND NAME -o json|yaml` prints the object itself, not a List (as kubectl)."""
    if fmt == "json":
        return json.dumps(item, indent=4)
    return str(yaml.safe_dump(item, sort_keys=False)).rstrip("\n")
