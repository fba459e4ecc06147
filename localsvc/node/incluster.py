"""The node's side of the API from inside pods: the ApiAccess the pod plans use (the environment's
CA as node/main.py read it once the PKI child ended, tokens signed with the environment's key)
and the check of a pod's bearer token by the API's middleware."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from localsvc.model.allocation import kubernetes_ip
from localsvc.model.incluster import ApiAccess, master_service_env
from localsvc.model.network import plan_for
from localsvc.model.nodeconfig import NodeConfig
from localsvc.model.satoken import TokenSubject, mint, signing_key, verify

Obj = dict[str, Any]


def _issued_at(pod: Obj) -> int:
    """The pod's creation time: the same pod always gets the same token."""
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    try:
        return int(datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def api_access(config: NodeConfig, ca_crt: bytes,
               service_accounts: Callable[[str, str], Obj | None]) -> ApiAccess:
    """What a pod plan needs for the API from inside the pod."""
    key = signing_key(config.token)
    cluster_ip = kubernetes_ip(str(plan_for(config.subnet).cluster_ip_range))

    def token(pod: Obj, account: str, account_uid: str) -> str:
        meta = pod.get("metadata") or {}
        return mint(key, TokenSubject(
            namespace=str(meta.get("namespace") or "default"), service_account=account,
            service_account_uid=account_uid, pod=str(meta.get("name") or ""),
            pod_uid=str(meta.get("uid") or "")), _issued_at(pod))

    return ApiAccess(env=master_service_env(cluster_ip), ca_crt=ca_crt, token=token,
                     service_accounts=service_accounts)


class TokenCheck:
    """The bearer tokens the Kubernetes API takes besides the environment's: service-account
    tokens this environment signed, bound to a pod that still exists with the token's uid (as
    the API server checks a bound token: a deleted pod's token is refused). Each call verifies
    the signature again (one HMAC and one JSON parse, ~20 us: nothing worth a cache) and looks
    the pod up (a dict lookup)."""

    def __init__(self, environment_token: str, pod_uid: Callable[[str, str], str | None]):
        self._key = signing_key(environment_token)
        self._pod_uid = pod_uid  # (namespace, name) -> the live pod's uid, None when gone

    def subject(self, authorization: str) -> TokenSubject | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        found = verify(self._key, token.strip())
        if found is None:
            return None
        if found.pod and self._pod_uid(found.namespace, found.pod) != found.pod_uid:
            return None
        return found


__all__ = ["TokenCheck", "api_access"]
