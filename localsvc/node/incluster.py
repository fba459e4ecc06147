"""The node's side of the API from inside pods: the one ApiAccess every pod plan uses (built once
per node process, once the environment's CA is made: node/main.py reads it after the PKI child
ends), the pods' tokens it mints (once per pod and service account), and the check of a pod's
bearer token by the API's middleware."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from localsvc.model.clock import rfc3339_seconds
from localsvc.model.incluster import ApiAccess, master_service_env
from localsvc.model.satoken import TokenSubject, mint, signing_key, verify
from localsvc.node.objectstore import ObjectStore
from localsvc.node.store import key_of

Obj = dict[str, Any]
Accounts = Callable[[str, str], Obj | None]  # (namespace, name) -> the ServiceAccount stored
MINTED_KEPT = 4096  # tokens kept: every live pod's (each is asked for at every step of its pod)


def _issued_at(pod: Obj) -> int:
    """The pod's creation time: the same pod always gets the same token."""
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    return int(rfc3339_seconds(str(created or "")) or 0)


class PodTokens:
    """The pods' service-account tokens. A token is a pure function of its pod (namespace, name,
    uid, creation time and service-account name: all fixed for a pod's uid) and of its
    account's uid, so it is minted once per (pod uid, account uid) and kept; the least recently
    asked for is dropped past MINTED_KEPT (a pod gone long ago)."""

    def __init__(self, environment_token: str):
        self._key = signing_key(environment_token)
        self._minted: OrderedDict[tuple[str, str], str] = OrderedDict()

    def token(self, pod: Obj, account: str, account_uid: str) -> str:
        meta = pod.get("metadata") or {}
        cache_key = (str(meta.get("uid") or ""), account_uid)
        found = self._minted.get(cache_key)
        if found is not None:
            self._minted.move_to_end(cache_key)
            return found
        found = mint(self._key, TokenSubject(
            namespace=str(meta.get("namespace") or "default"), service_account=account,
            service_account_uid=account_uid, pod=str(meta.get("name") or ""),
            pod_uid=cache_key[0]), _issued_at(pod))
        self._minted[cache_key] = found
        if len(self._minted) > MINTED_KEPT:
            self._minted.popitem(last=False)
        return found


def in_cluster_access(environment_token: str, cluster_ip: str, ca_crt: bytes,
                      service_accounts: Accounts) -> ApiAccess:
    """What every pod plan needs for the API from inside the pod; built once (its inputs never
    change while the node runs)."""
    return ApiAccess(env=master_service_env(cluster_ip), ca_crt=ca_crt,
                     token=PodTokens(environment_token).token, service_accounts=service_accounts)


class TokenCheck:
    """The bearer tokens the Kubernetes API takes besides the environment's: service-account
    tokens this environment signed, as the API server checks a bound token: its ServiceAccount
    still exists with the token's uid (a re-created account's old tokens are refused), and the
    pod it is bound to still exists with the token's uid (a deleted pod's token is refused).
    Each call verifies the signature again (one HMAC and one JSON parse, ~20 us: nothing worth
    a cache) and looks the account and the pod up (dict lookups)."""

    def __init__(self, environment_token: str, objects: ObjectStore):
        self._key = signing_key(environment_token)
        self._objects = objects  # where the pods and ServiceAccounts are

    def subject(self, authorization: str) -> TokenSubject | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        found = verify(self._key, token.strip())
        if found is None:
            return None
        account = self._objects.get(key_of("ServiceAccount", found.namespace,
                                           found.service_account))
        if _uid(account) != found.service_account_uid:
            return None
        if found.pod and _uid(self._objects.get(key_of("Pod", found.namespace, found.pod))) \
                != found.pod_uid:
            return None
        return found


def _uid(obj: Obj | None) -> str | None:
    return None if obj is None else str((obj.get("metadata") or {}).get("uid") or "")


__all__ = ["Accounts", "PodTokens", "TokenCheck", "in_cluster_access"]
