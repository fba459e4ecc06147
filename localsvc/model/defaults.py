"""The defaults a Kubernetes 1.32 API server fills in before it stores an object, so that what
localsvc stores, compares and hashes is what a cluster would. Pure.

`with_defaults(obj)` returns a defaulted copy of one object; the input is never changed and
applying it twice changes nothing more. It follows the SetDefaults_* functions of
pkg/apis/{core,apps,batch,discovery,networking,storage}/v1/defaults.go (pod specs in defaults_pod),
plus the few fields a cluster's create path always sets besides defaulting, because kubectl and
clients see them in every stored object: a Service's ipFamilyPolicy and ipFamilies (the
allocator), a Namespace's spec.finalizers (its strategy), and a Pod's serviceAccountName,
priority and eviction tolerations (the default admission plugins). Status is never touched.
Quantities come back in their canonical form, as the server writes them (0.5 -> 500m). Kinds
it does not know come back as plain copies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from localsvc.model.claims import CLAIM_PROTECTION, DEFAULT_CLASS
from localsvc.model.defaults_pod import (
    Obj, default_claim_spec, default_pod, default_pod_spec, default_resource_list)

# SetDefaults_Service: how long a ClientIP session affinity sticks (3 hours).
CLIENT_IP_AFFINITY_SECONDS = 10800
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _struct(obj: Obj, key: str = "spec") -> Obj:
    """obj[key], created when absent: every defaulted kind's spec (and a template) is a struct
    the server always writes. A value of the wrong type (for validation to report) is left
    alone: the defaults then go to a detached mapping."""
    spec = obj.get(key)
    if spec is None:
        spec = obj[key] = {}
    return spec if isinstance(spec, dict) else {}


def _mappings(value: object) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _child(obj: Obj, key: str) -> Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def _set_if_missing(obj: Obj, key: str, value: object) -> None:
    if obj.get(key) is None or obj.get(key) == "":
        obj[key] = value


def _template_spec(spec: Obj) -> None:
    """Defaults of spec.template.spec (a pod template: SetDefaults_PodSpec, not _Pod)."""
    default_pod_spec(_struct(_struct(spec, "template")))


# --- core/v1 ---------------------------------------------------------------------------------

def _pod(obj: Obj) -> None:
    default_pod(_struct(obj))


def _is_headless_without_selector(spec: Obj) -> bool:
    cluster_ips = spec.get("clusterIPs")
    first_ip = cluster_ips[0] if isinstance(cluster_ips, list) and cluster_ips else None
    return "None" in (spec.get("clusterIP"), first_ip) and not spec.get("selector")


def _ip_families(spec: Obj) -> None:
    """The allocator's initIPFamilyFields on a create, for localsvc's single-stack IPv4
    service network: SingleStack [IPv4], families inferred from given clusterIPs; a headless
    Service without a selector is RequireDualStack [IPv4, IPv6], as on any cluster."""
    headless_selectorless = _is_headless_without_selector(spec)
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    families = list(spec.get("ipFamilies") or [])
    for index, ip in enumerate(spec.get("clusterIPs") or []):
        if ip == "None" or not isinstance(ip, str):
            break
        if index >= len(families):
            families.append("IPv6" if ":" in ip else "IPv4")
    if not families:
        families = ["IPv4"]
    if headless_selectorless and len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    spec["ipFamilies"] = families


def _service(obj: Obj) -> None:
    spec = _struct(obj)
    _set_if_missing(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _child(spec, "sessionAffinityConfig")
        client_ip = _child(config, "clientIP") if config is not None else None
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": CLIENT_IP_AFFINITY_SECONDS}}
    _set_if_missing(spec, "type", "ClusterIP")
    for port in _mappings(spec.get("ports")):
        _set_if_missing(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    service_type = spec["type"]
    externally_accessible = service_type in ("NodePort", "LoadBalancer") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally_accessible:
        _set_if_missing(spec, "externalTrafficPolicy", "Cluster")
    if service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        _set_if_missing(spec, "internalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if service_type != "ExternalName":
        _ip_families(spec)


def _endpoints(obj: Obj) -> None:
    for subset in _mappings(obj.get("subsets")):
        for port in _mappings(subset.get("ports")):
            _set_if_missing(port, "protocol", "TCP")


def _secret(obj: Obj) -> None:
    _set_if_missing(obj, "type", "Opaque")


def _namespace(obj: Obj) -> None:
    """SetDefaults_Namespace labels a named namespace with its name (overwriting any other
    value); the namespace strategy gives a new namespace the kubernetes finalizer."""
    metadata = _child(obj, "metadata")
    name = metadata.get("name") if metadata is not None else None
    if metadata is not None and isinstance(name, str) and name:
        labels = _child(metadata, "labels") or {}
        metadata["labels"] = {**labels, NAMESPACE_NAME_LABEL: name}
    spec = _struct(obj)
    if spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]


def _persistent_volume_claim(obj: Obj) -> None:
    spec = _struct(obj)
    default_claim_spec(spec)
    # What the DefaultStorageClass and StorageObjectInUseProtection admission plugins add to
    # every claim: the default class when none is named (null; "" means none), the finalizer
    # that keeps a claim while a pod uses it.
    if "storageClassName" not in spec or spec["storageClassName"] is None:
        spec["storageClassName"] = DEFAULT_CLASS
    meta = _struct(obj, "metadata")
    finalizers = meta.get("finalizers")
    if finalizers is None:
        meta["finalizers"] = [CLAIM_PROTECTION]
    elif isinstance(finalizers, list) and CLAIM_PROTECTION not in finalizers:
        meta["finalizers"] = [*finalizers, CLAIM_PROTECTION]


def _persistent_volume(obj: Obj) -> None:
    spec = _struct(obj)
    _set_if_missing(spec, "persistentVolumeReclaimPolicy", "Retain")
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    host_path = _child(spec, "hostPath")
    if host_path is not None and host_path.get("type") is None:
        host_path["type"] = ""
    default_resource_list(spec, "capacity")


# --- apps/v1 ---------------------------------------------------------------------------------

def _rolling_update(strategy: Obj, defaults: dict[str, object]) -> None:
    rolling = _struct(strategy, "rollingUpdate")
    for key, value in defaults.items():
        if rolling.get(key) is None:
            rolling[key] = value


def _replicas_and_history(spec: Obj) -> None:
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10


def _deployment(obj: Obj) -> None:
    spec = _struct(obj)
    _replicas_and_history(spec)
    strategy = _struct(spec, "strategy")
    _set_if_missing(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _rolling_update(strategy, {"maxUnavailable": "25%", "maxSurge": "25%"})
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template_spec(spec)


def _replica_set(obj: Obj) -> None:
    spec = _struct(obj)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _template_spec(spec)


def _stateful_set(obj: Obj) -> None:
    spec = _struct(obj)
    _set_if_missing(spec, "podManagementPolicy", "OrderedReady")
    strategy = _struct(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if _child(strategy, "rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = _child(strategy, "rollingUpdate")
    if strategy["type"] == "RollingUpdate" and rolling is not None \
            and rolling.get("partition") is None:
        rolling["partition"] = 0
    # StatefulSetAutoDeletePVC is GA in 1.32: the policy is always written.
    retention = _struct(spec, "persistentVolumeClaimRetentionPolicy")
    _set_if_missing(retention, "whenDeleted", "Retain")
    _set_if_missing(retention, "whenScaled", "Retain")
    _replicas_and_history(spec)
    for claim in _mappings(spec.get("volumeClaimTemplates")):
        # apps/v1 conversion writes every claim template out with its own apiVersion and kind
        # (as reflective conversion did before 1.17, kubernetes#87583).
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        default_claim_spec(_struct(claim))
        # SetDefaults_PersistentVolumeClaim: the template's own status, stored in the spec.
        status = _struct(claim, "status")
        _set_if_missing(status, "phase", "Pending")
    _template_spec(spec)


def _daemon_set(obj: Obj) -> None:
    spec = _struct(obj)
    strategy = _struct(spec, "updateStrategy")
    _set_if_missing(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _rolling_update(strategy, {"maxUnavailable": 1, "maxSurge": 0})
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template_spec(spec)


# --- batch/v1 --------------------------------------------------------------------------------

MAX_INT32 = 2**31 - 1


def _job(obj: Obj) -> None:
    """SetDefaults_Job (JobPodReplacementPolicy is on by default in 1.32). The selector and the
    controller-uid labels the job strategy adds need the Job's uid: not defaulting."""
    spec = _struct(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = _child(spec, "template")
    template_labels = _child(template, "metadata") if template is not None else None
    labels = _child(template_labels, "labels") if template_labels is not None else None
    metadata = _child(obj, "metadata")
    if labels is not None and metadata is not None and not metadata.get("labels"):
        metadata["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    failure_policy = _child(spec, "podFailurePolicy")
    for rule in _mappings(failure_policy.get("rules") if failure_policy is not None else None):
        for pattern in _mappings(rule.get("onPodConditions")):
            _set_if_missing(pattern, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None \
            else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    _template_spec(spec)


def _cron_job(obj: Obj) -> None:
    """SetDefaults_CronJob; the job template's pod spec, but not SetDefaults_Job (a template
    is no Job)."""
    spec = _struct(obj)
    _set_if_missing(spec, "concurrencyPolicy", "Allow")
    for key, value in (("suspend", False), ("successfulJobsHistoryLimit", 3),
                       ("failedJobsHistoryLimit", 1)):
        if spec.get(key) is None:
            spec[key] = value
    job_template = _struct(spec, "jobTemplate")
    _template_spec(_struct(job_template))


# --- discovery, networking, storage ----------------------------------------------------------

def _endpoint_slice(obj: Obj) -> None:
    for port in _mappings(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"
    # conditions is a struct, not a pointer: the server always writes it, {} when empty.
    for endpoint in _mappings(obj.get("endpoints")):
        if endpoint.get("conditions") is None:
            endpoint["conditions"] = {}


def _ingress_class(obj: Obj) -> None:
    parameters = _child(_struct(obj), "parameters")
    if parameters is not None and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


def _storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Endpoints"): _endpoints,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "PersistentVolumeClaim"): _persistent_volume_claim,
    ("", "PersistentVolume"): _persistent_volume,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replica_set,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    ("networking.k8s.io", "IngressClass"): _ingress_class,
    ("storage.k8s.io", "StorageClass"): _storage_class,
}


def with_defaults(obj: Obj) -> Obj:
    """A copy of `obj` with every field the API server would default filled in."""
    out = copy.deepcopy(obj)
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    defaulter = _DEFAULTERS.get((group, str(obj.get("kind"))))
    if defaulter is not None:
        defaulter(out)
    return out

