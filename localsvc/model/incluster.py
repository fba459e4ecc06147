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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.model.endpoints import endpoint_slices, endpoints_object, service_env
from localsvc.model.nodeconfig import IN_CLUSTER_API_PORT as API_PORT
from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort

Obj = dict[str, Any]
NAMESPACE, NAME = "default", "kubernetes"
SERVICE_KEY = f"Service/{NAMESPACE}/{NAME}"
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
               f"Endpoints/{NAMESPACE}/{NAME}": endpoints}
    for piece in endpoint_slices(info, created)[:1]:  # one port, one address: one slice
        piece["metadata"]["name"] = NAME
        objects[f"EndpointSlice/{NAMESPACE}/{NAME}"] = piece
    return objects


def default_account_uid(env: str, namespace: str) -> str:
    """The uid of a namespace's `default` ServiceAccount (the node's, as the cluster's
    controller makes it; the only ServiceAccounts there are): derived from the environment and
    the namespace, so it is the same in every node process and the tokens bound to it, which
    carry it, stay valid across node restarts."""
    return str(uuid.uuid5(_ACCOUNT_UIDS, f"{env}/{namespace}/default"))


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
    if not automounts(pod, account):
        return None
    uid = str(((account or {}).get("metadata") or {}).get("uid") or "")
    return {"token": access.token(pod, name, uid).encode(), "ca.crt": access.ca_crt,
            "namespace": namespace.encode()}


__all__ = ["API_PORT", "ApiAccess", "MOUNT_PATH", "SERVICE_KEY", "access_files", "automounts",
           "default_account_uid",
           "kubernetes_objects", "kubernetes_service_info", "kubernetes_service_object",
           "master_service_env", "service_account_name", "volume_name"]
