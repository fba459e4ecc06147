"""Builders of Ingress objects for the ingress unit tests."""

from __future__ import annotations

import base64
from typing import Any

from localsvc.model.ingressroutes import ServiceTarget

Obj = dict[str, Any]
SERVICES = {
    ("default", "web"): ServiceTarget("10.1.0.5", {"http": 80}, frozenset({80})),
    ("default", "api"): ServiceTarget("10.1.0.6", {"http": 8080}, frozenset({8080})),
    ("default", "headless"): ServiceTarget(None, {}, frozenset({80})),
}
CRT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def backend(service: str, port: int | str = 80) -> Obj:
    key = "name" if isinstance(port, str) else "number"
    return {"service": {"name": service, "port": {key: port}}}


def path(p: str, kind: str = "Prefix", service: str = "web", port: int | str = 80) -> Obj:
    return {"path": p, "pathType": kind, "backend": backend(service, port)}


def ingress(name: str, rules: list[Obj], created: str = "2024-01-01T00:00:00Z",
            **spec: Any) -> Obj:
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": "default",
                                            "creationTimestamp": created},
            "spec": {"rules": rules, **spec}}


def rule(host: str, *paths: Obj) -> Obj:
    return {"host": host, "http": {"paths": list(paths)}} if host else {"http": {
        "paths": list(paths)}}


def tls_secret(name: str, crt: bytes = CRT, key: bytes = KEY,
               kind: str = "kubernetes.io/tls") -> Obj:
    return {"type": kind, "metadata": {"name": name, "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(crt).decode(),
                     "tls.key": base64.b64encode(key).decode()}}
