"""meta.k8s.io Tables: what `kubectl get` prints, as the 1.32 API server builds them. Pure.

`table(kind, objects, now)` gives the columns and rows of pkg/printers/internalversion's
printer for the kind (every column, the -o wide ones with priority 1: the server always sends
them and kubectl hides them), a NAME/AGE table for kinds without one. Each row carries the object
as the request's includeObject asks: "None", "Metadata" (a PartialObjectMetadata, the default)
or "Object". `table_request(accept)` tells from an Accept header whether a Table is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi import batchtables, ingresstable, podtable, storagetable
from localsvc.model.kubeapi.tablecells import AGE, NAME, NONE, Column, age, dig, name_of, since
from localsvc.model.kubeapi.tablecells import containers_and_images, format_labels, more_list
from localsvc.model.kubeapi.tablecells import selector_string
from localsvc.model.kubeapi.tablecells import CONTAINERS, IMAGES, as_int, format_label_selector
from localsvc.model.kubeapi.tablecells import mapping_items

Row = tuple[list[Any], list[dict[str, str]]]
Printer = Callable[[Mapping[str, Any], float], Row]

# -- Service

def _service_row(svc: Mapping[str, Any], now: float) -> Row:
    spec = svc.get("spec") or {}
    kind = str(spec.get("type") or "ClusterIP")
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if as_int(p.get("nodePort"))
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in mapping_items(spec.get("ports")))
    return [name_of(svc), kind, cluster_ips[0] if cluster_ips else NONE,
            _external_ip(svc, kind), ports or NONE, age(svc, now),
            format_labels(spec.get("selector"))], []


def _external_ip(svc: Mapping[str, Any], kind: str) -> str:
    external = [str(ip) for ip in dig(svc, "spec", "externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ingress = sorted({str(i.get("ip") or i.get("hostname")) for i in
                          mapping_items(dig(svc, "status", "loadBalancer", "ingress"))
                          if i.get("ip") or i.get("hostname")})
        return ",".join(ingress + external) or "<pending>"
    if kind == "ExternalName":
        return str(dig(svc, "spec", "externalName") or "")
    return "<unknown>"


# -- workloads

def _deployment_row(deploy: Mapping[str, Any], now: float) -> Row:
    status = deploy.get("status") or {}
    template = dig(deploy, "spec", "template", "spec", "containers")
    names, images = containers_and_images(template)
    replicas = dig(deploy, "spec", "replicas")
    return [name_of(deploy),
            f"{as_int(status.get('readyReplicas'))}/{1 if replicas is None else as_int(replicas)}",
            as_int(status.get("updatedReplicas")), as_int(status.get("availableReplicas")),
            age(deploy, now), names, images, selector_string(dig(deploy, "spec", "selector"))], []


def _replicaset_row(rs: Mapping[str, Any], now: float) -> Row:
    status = rs.get("status") or {}
    names, images = containers_and_images(dig(rs, "spec", "template", "spec", "containers"))
    replicas = dig(rs, "spec", "replicas")
    return [name_of(rs), 1 if replicas is None else as_int(replicas), as_int(status.get("replicas")),
            as_int(status.get("readyReplicas")), age(rs, now), names, images,
            format_label_selector(dig(rs, "spec", "selector"))], []


def _statefulset_row(sts: Mapping[str, Any], now: float) -> Row:
    names, images = containers_and_images(dig(sts, "spec", "template", "spec", "containers"))
    replicas = dig(sts, "spec", "replicas")
    ready = as_int(dig(sts, "status", "readyReplicas"))
    return [name_of(sts), f"{ready}/{1 if replicas is None else as_int(replicas)}", age(sts, now),
            names, images], []


def _controllerrevision_row(revision: Mapping[str, Any], now: float) -> Row:
    owner = next((r for r in mapping_items(dig(revision, "metadata", "ownerReferences"))
                  if r.get("controller")), None)
    controller = NONE
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", "")).lower()
        controller = f"{kind}.{group}/{owner.get('name')}" if group else \
            f"{kind}/{owner.get('name')}"
    return [name_of(revision), controller, as_int(revision.get("revision")), age(revision, now)], []


# -- endpoints

def _endpoints_row(endpoints: Mapping[str, Any], now: float) -> Row:
    subsets = mapping_items(endpoints.get("subsets"))
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [str(a.get("ip", "")) for a in mapping_items(subset.get("addresses"))]
        ports = mapping_items(subset.get("ports"))
        if not ports:  # a headless Service without ports lists bare addresses
            count += len(addresses)
            shown += addresses
            continue
        for port in ports:
            count += len(addresses)
            shown += [_host_port(ip, port.get("port")) for ip in addresses]
    text = more_list(shown, count) if subsets else NONE
    return [name_of(endpoints), text, age(endpoints, now)], []


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _endpointslice_row(eps: Mapping[str, Any], now: float) -> Row:
    ports = mapping_items(eps.get("ports"))
    port_names = [str(p["port"]) if p.get("port") is not None
                  else str(p["name"]) if p.get("name") is not None else "*" for p in ports]
    addresses = [str(a) for e in mapping_items(eps.get("endpoints")) for a in e.get("addresses") or []]
    endpoints = (more_list(addresses, len(addresses), empty="<unset>")
                 if mapping_items(eps.get("endpoints")) else "<unset>")
    return [name_of(eps), str(eps.get("addressType", "")),
            more_list(port_names, len(port_names), empty="<unset>"), endpoints, age(eps, now)], []


# -- cluster and configuration

def _namespace_row(ns: Mapping[str, Any], now: float) -> Row:
    return [name_of(ns), str(dig(ns, "status", "phase") or ""), age(ns, now)], []


def _node_row(node: Mapping[str, Any], now: float) -> Row:
    status = node.get("status") or {}
    ready = next((c for c in mapping_items(status.get("conditions")) if c.get("type") == "Ready"), None)
    states = ["Unknown"] if ready is None else [
        "Ready" if ready.get("status") == "True" else "NotReady"]
    if dig(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [name_of(node), ",".join(states), _node_roles(node), age(node, now),
            str(info.get("kubeletVersion", "")), _node_address(status, "InternalIP"),
            _node_address(status, "ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"], []


def _node_roles(node: Mapping[str, Any]) -> str:
    roles: set[str] = set()
    for key, value in (dig(node, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def _node_address(status: Mapping[str, Any], kind: str) -> str:
    return next((str(a.get("address")) for a in mapping_items(status.get("addresses"))
                 if a.get("type") == kind), NONE)


def _configmap_row(cm: Mapping[str, Any], now: float) -> Row:
    count = len(cm.get("data") or {}) + len(cm.get("binaryData") or {})
    return [name_of(cm), count, age(cm, now)], []


def _secret_row(secret: Mapping[str, Any], now: float) -> Row:
    return [name_of(secret), str(secret.get("type", "")), len(secret.get("data") or {}),
            age(secret, now)], []


def _serviceaccount_row(sa: Mapping[str, Any], now: float) -> Row:
    return [name_of(sa), len(sa.get("secrets") or []), age(sa, now)], []


# -- events (core/v1 and events.k8s.io/v1, whose fields are renamed)

def _event_row(event: Mapping[str, Any], now: float) -> Row:
    e = _core_event(event)
    first = (since(e.get("firstTimestamp"), now) if e.get("firstTimestamp")
             else since(e.get("eventTime"), now))
    last = since(e.get("lastTimestamp"), now) if e.get("lastTimestamp") else first
    count = as_int(e.get("count"))
    series = e.get("series")
    if isinstance(series, Mapping):
        last, count = since(series.get("lastObservedTime"), now), as_int(series.get("count"))
    elif count == 0:
        count = 1  # a singleton event of the new API has no count
    involved = e.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = e.get("source") or {}
    component = source.get("component") or e.get("reportingComponent") or ""
    instance = source.get("host") or e.get("reportingInstance") or ""
    return [last, str(e.get("type", "")), str(e.get("reason", "")), target,
            str(involved.get("fieldPath", "")),
            f"{component}, {instance}" if instance else str(component),
            str(e.get("message", "")).strip(), first, count, name_of(event)], []


def _core_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    if not str(event.get("apiVersion", "")).startswith("events.k8s.io/"):
        return event
    series = event.get("series")
    return {
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "eventTime": event.get("eventTime"), "count": event.get("deprecatedCount"),
        "series": ({"count": series.get("count"), "lastObservedTime":
                    series.get("lastObservedTime")} if isinstance(series, Mapping) else None),
        "involvedObject": event.get("regarding") or {}, "type": event.get("type"),
        "reason": event.get("reason"), "message": event.get("note"),
        "source": event.get("deprecatedSource") or {},
        "reportingComponent": event.get("reportingController"),
        "reportingInstance": event.get("reportingInstance"),
    }


def _default_row(obj: Mapping[str, Any], now: float) -> Row:
    return [name_of(obj), age(obj, now)], []


_PRINTERS: dict[str, tuple[tuple[Column, ...], Printer]] = {
    "Pod": (podtable.COLUMNS, podtable.pod_row),
    "Service": ((NAME, Column("Type", doc="ServiceSpec.type"),
                 Column("Cluster-IP", doc="ServiceSpec.clusterIP"),
                 Column("External-IP", doc="ServiceSpec.externalIPs"),
                 Column("Port(s)", doc="ServiceSpec.ports"), AGE,
                 Column("Selector", priority=1, doc="ServiceSpec.selector")), _service_row),
    "Deployment": ((NAME, Column("Ready", text="Number of the pod with ready state"),
                    Column("Up-to-date", doc="DeploymentStatus.updatedReplicas"),
                    Column("Available", doc="DeploymentStatus.availableReplicas"), AGE,
                    CONTAINERS, IMAGES,
                    Column("Selector", priority=1, doc="DeploymentSpec.selector")),
                   _deployment_row),
    "ReplicaSet": ((NAME, Column("Desired", "integer", doc="ReplicaSetSpec.replicas"),
                    Column("Current", "integer", doc="ReplicaSetStatus.replicas"),
                    Column("Ready", "integer", doc="ReplicaSetStatus.readyReplicas"), AGE,
                    CONTAINERS, IMAGES,
                    Column("Selector", priority=1, doc="ReplicaSetSpec.selector")),
                   _replicaset_row),
    "StatefulSet": ((NAME, Column("Ready", text="Number of the pod with ready state"), AGE,
                     CONTAINERS, IMAGES), _statefulset_row),
    "ControllerRevision": ((NAME, Column("Controller", text="Controller of the object"),
                            Column("Revision", text="Revision indicates the revision of the "
                                   "state represented by Data."), AGE),
                           _controllerrevision_row),
    "Endpoints": ((NAME, Column("Endpoints", doc="Endpoints.subsets"), AGE), _endpoints_row),
    "EndpointSlice": ((NAME, Column("AddressType", doc="EndpointSlice.addressType"),
                       Column("Ports", doc="EndpointSlice.ports"),
                       Column("Endpoints", doc="EndpointSlice.endpoints"), AGE),
                      _endpointslice_row),
    "Namespace": ((NAME, Column("Status", text="The status of the namespace"), AGE),
                  _namespace_row),
    "Node": ((NAME, Column("Status", text="The status of the node"),
              Column("Roles", text="The roles of the node"), AGE,
              Column("Version", doc="NodeSystemInfo.kubeletVersion"),
              Column("Internal-IP", priority=1, doc="NodeStatus.addresses"),
              Column("External-IP", priority=1, doc="NodeStatus.addresses"),
              Column("OS-Image", priority=1, doc="NodeSystemInfo.osImage"),
              Column("Kernel-Version", priority=1, doc="NodeSystemInfo.kernelVersion"),
              Column("Container-Runtime", priority=1,
                     doc="NodeSystemInfo.containerRuntimeVersion")), _node_row),
    "ConfigMap": ((NAME, Column("Data", doc="ConfigMap.data"), AGE), _configmap_row),
    "Secret": ((NAME, Column("Type", doc="Secret.type"), Column("Data", doc="Secret.data"), AGE),
               _secret_row),
    "ServiceAccount": ((NAME, Column("Secrets", doc="ServiceAccount.secrets"), AGE),
                       _serviceaccount_row),
    "Event": ((Column("Last Seen", doc="Event.lastTimestamp"), Column("Type", doc="Event.type"),
               Column("Reason", doc="Event.reason"), Column("Object", doc="Event.involvedObject"),
               Column("Subobject", priority=1, doc="ObjectReference.fieldPath"),
               Column("Source", priority=1, doc="Event.source"),
               Column("Message", doc="Event.message"),
               Column("First Seen", priority=1, doc="Event.firstTimestamp"),
               Column("Count", priority=1, doc="Event.count"),
               Column("Name", priority=1, format="name", doc="ObjectMeta.name")), _event_row),
    "PersistentVolumeClaim": (storagetable.CLAIM_COLUMNS, storagetable.claim_row),
    "PersistentVolume": (storagetable.VOLUME_COLUMNS, storagetable.volume_row),
    "StorageClass": (storagetable.CLASS_COLUMNS, storagetable.class_row),
    "Ingress": (ingresstable.INGRESS_COLUMNS, ingresstable.ingress_row),
    "IngressClass": (ingresstable.INGRESS_CLASS_COLUMNS, ingresstable.ingress_class_row),
    "Job": (batchtables.JOB_COLUMNS, batchtables.job_row),
    "CronJob": (batchtables.CRONJOB_COLUMNS, batchtables.cronjob_row),
    "DaemonSet": (batchtables.DAEMONSET_COLUMNS, batchtables.daemonset_row),
}
_DEFAULT = ((NAME, AGE), _default_row)


def columns(kind: str) -> tuple[Column, ...]:
    return _PRINTERS.get(kind, _DEFAULT)[0]


def table(kind: str, objects: Sequence[Mapping[str, Any]], now: float,
          include_object: str = "Metadata", resource_version: str = "", *,
          continue_token: str = "", remaining_item_count: int | None = None,
          version: str = "v1", no_headers: bool = False) -> dict[str, Any]:
    """The Table of `objects` of `kind` at time `now` (seconds since the epoch).

    `resource_version`: the list's, or the object's for a get. `no_headers`: leave the column
    definitions out (null), as a watch does for every event after its first.
    """
    defined, printer = _PRINTERS.get(kind, _DEFAULT)
    rows = []
    for obj in objects:
        cells, conditions = printer(obj, now)
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object, version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": metadata,
            "columnDefinitions": None if no_headers else [c.definition() for c in defined],
            "rows": rows}


def _row_object(obj: Mapping[str, Any], include_object: str,
                version: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": dict(obj.get("metadata") or {})}


# -- content negotiation

TABLE_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class TableRequest:
    version: str  # "v1" or "v1beta1"

    @property
    def content_type(self) -> str:
        """The Content-Type of the answer, as the API server labels a Table."""
        return f"application/json;as=Table;v={self.version};g=meta.k8s.io"


def table_request(accept: str) -> TableRequest | None:
    """The Table the Accept header prefers, None when it prefers a plain object (or nothing).

    Media ranges are taken by their q (highest first, then in order); the first one the server
    can answer decides: a JSON Table of a known version, or plain JSON/YAML/anything. Others
    (protobuf, PartialObjectMetadata, unknown Table versions) are passed over.
    """
    ranges = []
    for position, text in enumerate(accept.split(",")):
        media, _, rest = text.partition(";")
        params = {}
        for item in rest.split(";"):
            key, _, value = item.partition("=")
            if key.strip():
                params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:  # q=0 refuses the range
            ranges.append((-quality, position, media.strip().lower(), params))
    for _, _, media, params in sorted(ranges, key=lambda r: (r[0], r[1])):
        if "as" in params:
            if (media in ("application/json", "application/*", "*/*")
                    and params.get("as") == "Table" and params.get("g") == "meta.k8s.io"
                    and params.get("v") in TABLE_VERSIONS):
                return TableRequest(params["v"])
            continue
        if media in ("application/json", "application/yaml", "application/*", "*/*"):
            return None
    return None
