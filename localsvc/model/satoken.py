"""Service-account tokens (pure): HS256 JWTs carrying the claims of a projected token.

A pod's token is derived, not stored: its signing key is an HMAC of the environment's own
secret token, so the node verifies any token with nothing kept per pod, and a token of one
environment fails the signature check of every other (each has its own secret). The claims are
those of a kubelet-projected token (iss, sub system:serviceaccount:NS:NAME, aud, iat, nbf and
kubernetes.io {namespace, serviceaccount {name, uid}, pod {name, uid}}); `iat` is the pod's
creation time, so the same pod always gets the same token. There is no `exp`: like the legacy
Secret-based tokens, a token lives as long as its environment (its secret token) does; there is
no kubelet here to rotate a short-lived one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

ISSUER = "https://kubernetes.default.svc.cluster.local"  # the API server's default --service-account-issuer
AUDIENCE = ISSUER  # its default --api-audiences is the issuer
_KEY_CONTEXT = b"localsvc service-account token signing key v1"
_HEADER = {"alg": "HS256", "typ": "JWT"}
SUBJECT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class TokenSubject:
    """Whom a token names."""

    namespace: str
    service_account: str
    service_account_uid: str = ""
    pod: str = ""
    pod_uid: str = ""


def signing_key(environment_token: str) -> bytes:
    """The environment's token-signing key: its secret token never signs anything itself."""
    return hmac.new(environment_token.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def claims_of(subject: TokenSubject, issued_at: int) -> dict[str, Any]:
    kubernetes: dict[str, Any] = {
        "namespace": subject.namespace,
        "serviceaccount": {"name": subject.service_account, "uid": subject.service_account_uid},
    }
    if subject.pod:
        kubernetes["pod"] = {"name": subject.pod, "uid": subject.pod_uid}
    return {
        "iss": ISSUER,
        "aud": [AUDIENCE],
        "sub": f"{SUBJECT_PREFIX}{subject.namespace}:{subject.service_account}",
        "iat": issued_at,
        "nbf": issued_at,
        "kubernetes.io": kubernetes,
    }


def mint(key: bytes, subject: TokenSubject, issued_at: int) -> str:
    """The signed token of `subject` (deterministic: same inputs, same token)."""
    signing_input = f"{_b64(_json(_HEADER))}.{_b64(_json(claims_of(subject, issued_at)))}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def verify(key: bytes, token: str) -> TokenSubject | None:
    """The subject of a token this key signed with well-formed claims, else None (never raises
    on bad input: whatever a client sends is answered 401)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        signature = _unb64(parts[2])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return None  # never "none" or another algorithm: only what the node signs
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        return None
    return _subject(claims)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _subject(claims: Any) -> TokenSubject | None:
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
        return None
    audiences = claims.get("aud")
    if AUDIENCE not in (audiences if isinstance(audiences, list) else [audiences]):
        return None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith(SUBJECT_PREFIX):
        return None
    namespace, _, name = sub[len(SUBJECT_PREFIX):].partition(":")
    info = claims.get("kubernetes.io")
    if not namespace or not name or not isinstance(info, dict):
        return None
    account = _dict(info.get("serviceaccount"))
    pod = _dict(info.get("pod"))
    if info.get("namespace") != namespace or account.get("name") != name:
        return None
    return TokenSubject(namespace, name, str(account.get("uid") or ""),
                        str(pod.get("name") or ""), str(pod.get("uid") or ""))


__all__ = ["AUDIENCE", "ISSUER", "TokenSubject", "claims_of", "mint", "signing_key", "verify"]
