"""The API from inside pods (pure): the `kubernetes` Service of `default`, the variables the
kubelet sets for it in every container, and the service-account files every pod mounts.

The Service is the node's own, as it is the API server's in a cluster: its ClusterIP is the
first of the range (model/allocation.py reserves it), its one port 443 (named https) leads to
the node's HTTPS API on the node's IP:443, where pods reach the node. Its Endpoints and
EndpointSlice follow from its ServiceInfo like any other Service's, so DNS and the dataplane
serve it from the store as they serve the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.errors import Problem
from localsvc.model.endpoints import endpoint_slices, endpoints_object, service_env
from localsvc.model.load import Manifest, ObjectKey
from localsvc.model.nodeconfig import IN_CLUSTER_API_PORT as API_PORT
from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort

Obj = dict[str, Any]
NAMESPACE, NAME = "default", "kubernetes"
SERVICE_KEY = ObjectKey("Service", NAMESPACE, NAME).id
PORT_NAME = "https"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
_ACCOUNT_UIDS = uuid.UUID("5c1e7f3a-3f0e-4a8e-9d57-6b0d2c1a9e41")  # uuid5 namespace of localsvc's


def kubernetes_service_info(cluster_ip: str, node_ip: str) -> ServiceInfo:
    return ServiceInfo(
        namespace=NAMESPACE, name=NAME, type="ClusterIP", cluster_ip=cluster_ip,
        ports=(ServicePort(PORT_NAME, "TCP", API_PORT),),
        endpoints=(Endpoint(ip=node_ip, ready=True, ports={PORT_NAME: API_PORT}),),
    )


def kubernetes_service_object(cluster_ip: str, created: str) -> Obj:
    """The Service as a cluster's API server keeps it (its labels, no selector)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "creationTimestamp": created,
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": PORT_NAME, "port": API_PORT, "protocol": "TCP",
                       "targetPort": API_PORT}],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def kubernetes_objects(cluster_ip: str, node_ip: str, created: str) -> dict[str, Obj]:
    """The Service, its Endpoints and its EndpointSlice (named as the Service, as the API
    server names it), by store key."""
    info = kubernetes_service_info(cluster_ip, node_ip)
    endpoints = endpoints_object(info, created)
    endpoints["metadata"]["labels"] = {"endpointslice.kubernetes.io/skip-mirror": "true"}
    objects = {SERVICE_KEY: kubernetes_service_object(cluster_ip, created),
               ObjectKey("Endpoints", NAMESPACE, NAME).id: endpoints}
    for piece in endpoint_slices(info, created)[:1]:  # one port, one address: one slice
        piece["metadata"]["name"] = NAME
        objects[ObjectKey("EndpointSlice", NAMESPACE, NAME).id] = piece
    return objects


RECREATED_ACCOUNTS = "recreatedAccounts"  # the state's table: namespace -> `default` deletions


def default_account_uid(env: str, namespace: str, recreated: int = 0) -> str:
    """The uid of a namespace's `default` ServiceAccount (the node's, as the cluster's
    controller makes it, and a user's applied `default`, which updates it): derived from the
    environment, the namespace and how many times it was deleted (kept in the state), so it is
    the same in every node process and the tokens bound to it, which carry it, stay valid
    across node restarts; deleted, it comes back as a new object with a new uid, as the
    controller re-creates it (kubectl delete waits for the uid to change, and the old tokens
    are refused, as a cluster refuses them)."""
    suffix = f"/{recreated}" if recreated else ""
    return str(uuid.uuid5(_ACCOUNT_UIDS, f"{env}/{namespace}/default{suffix}"))


def current_default_account_uid(env: str, allocations: Mapping[str, Any],
                                namespace: str) -> str:
    """The uid the namespace's `default` ServiceAccount has now (after its deletions so far)."""
    return default_account_uid(env, namespace, recreated_count(allocations, namespace))


def recreated_count(allocations: Mapping[str, Any], namespace: str) -> int:
    """How many times the namespace's `default` ServiceAccount was deleted (the state's table)."""
    table = allocations.get(RECREATED_ACCOUNTS) or {}
    return int(table.get(namespace) or 0)


def master_service_env(cluster_ip: str) -> dict[str, str]:
    """KUBERNETES_SERVICE_HOST, _PORT, _PORT_HTTPS, KUBERNETES_PORT, KUBERNETES_PORT_443_TCP
    (+ _PROTO, _PORT, _ADDR): the kubelet sets them in every pod of every namespace, even with
    enableServiceLinks false (getServiceEnvVarMap's master services)."""
    return service_env([kubernetes_service_info(cluster_ip, "")])


@dataclass(frozen=True)
class ApiAccess:
    """What plan_pod needs to give a pod the API: the master Service's variables, the
    environment's CA, a token minter and the ServiceAccounts."""

    env: Mapping[str, str]
    ca_crt: bytes
    token: Callable[[Obj, str, str], str]  # (pod, service account name, its uid) -> token
    service_accounts: Callable[[str, str], Obj | None]  # (namespace, name) -> stored object


def service_account_name(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def account_field(pod: Obj) -> str:
    """The field that names the pod's account (the deprecated spec.serviceAccount when only it
    is set)."""
    spec = pod.get("spec") or {}
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        return "spec.serviceAccount"
    return "spec.serviceAccountName"


ACCOUNT_LOOKUP = "error looking up service account"  # the API server's words, then the fix


def missing_account(namespace: str, name: str) -> str:
    """The API server's ServiceAccount admission refusal of a pod whose account is missing."""
    return f'{ACCOUNT_LOOKUP} {namespace}/{name}: serviceaccount "{name}" not found'


def missing_account_problems(pods: Sequence[Manifest],
                             exists: Callable[[str, str], bool]) -> list[Problem]:
    """Pods (new ones) whose ServiceAccount `exists` (namespace, name) does not know, refused as
    the API server's ServiceAccount admission refuses them. `default` always exists: the node
    makes it in every namespace, as the cluster's controller does."""
    problems = []
    for m in pods:
        name = service_account_name(m.obj)
        if name == "default" or exists(m.namespace, name):
            continue
        path = account_field(m.obj)
        problems.append(Problem(
            m.file, m.line_of(path), m.kind, m.name, path,
            f"{missing_account(m.namespace, name)}; apply the ServiceAccount with the pod "
            f"(`kubectl create serviceaccount {name} -n {m.namespace}`, or a manifest of "
            f"kind ServiceAccount in the same apply), or leave {path} out to use `default`"))
    return problems


def automounts(pod: Obj, account: Obj | None) -> bool:
    """Whether the pod gets a token: the pod's automountServiceAccountToken when it says, else
    its ServiceAccount's, else true (the ServiceAccount admission plugin's rule)."""
    said = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if said is not None:
        return bool(said)
    said = (account or {}).get("automountServiceAccountToken")
    return True if said is None else bool(said)


def volume_name(pod: Obj) -> str:
    """kube-api-access-<5 characters>: derived from the pod's uid (the admission plugin's suffix
    is random), so every plan of one pod names the same volume."""
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the API server's name-suffix alphabet
    number = int.from_bytes(uid.encode()[:16].ljust(16, b"0"), "big")
    suffix = ""
    for _ in range(5):
        number, digit = divmod(number, len(alphabet))
        suffix += alphabet[digit]
    return VOLUME_PREFIX + suffix


def access_files(pod: Obj, access: ApiAccess) -> dict[str, bytes] | None:
    """token, ca.crt and namespace for the pod's mount, or None when it gets none."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    name = service_account_name(pod)
    account = access.service_accounts(namespace, name)
    if account is None and name != "default":
        # A Deployment's pod whose account is not there (yet): it waits, as the ReplicaSet
        # makes no pod until the account exists; its containers show
        # CreateContainerConfigError with the API server's words, and the plan is made again
        # at the pod's next step. Without this, the pod would run with a token its API
        # refuses (bound to no account). (`default` is the node's in every namespace: missing
        # only before the node's first publish, the pod runs as before.)
        from localsvc.model.podplan import ConfigError  # (podplan imports this module)

        raise ConfigError(missing_account(namespace, name))
    if not automounts(pod, account):
        return None
    uid = str(((account or {}).get("metadata") or {}).get("uid") or "")
    return {"token": access.token(pod, name, uid).encode(), "ca.crt": access.ca_crt,
            "namespace": namespace.encode()}


__all__ = ["ACCOUNT_LOOKUP", "API_PORT", "ApiAccess", "MOUNT_PATH", "RECREATED_ACCOUNTS",
           "SERVICE_KEY", "recreated_count",
           "access_files", "account_field", "automounts", "current_default_account_uid",
           "default_account_uid",
           "missing_account", "missing_account_problems",
           "kubernetes_objects", "kubernetes_service_info", "kubernetes_service_object",
           "master_service_env", "service_account_name", "volume_name"]
