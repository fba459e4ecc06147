"""Which Ingresses localsvc's controller serves: the IngressClass the node publishes, and the
class an Ingress asks for. Pure.

As an ingress controller in a cluster does, the controller serves only the Ingresses of its own
classes (an IngressClass whose spec.controller is CONTROLLER) and leaves every other Ingress
alone (no routes, no status). An Ingress without a class goes to the default class, as the API
server's DefaultIngressClass admission would have set it; the deprecated
`kubernetes.io/ingress.class` annotation still names a class, as controllers honour it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CONTROLLER = "localsvc.io/ingress-haproxy"
DEFAULT_CLASS = "localsvc"
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"  # deprecated, still honoured
Obj = dict[str, Any]


def default_ingress_class(created: str) -> Obj:
    """The IngressClass the node publishes (unless one of that name is applied)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": DEFAULT_CLASS, "creationTimestamp": created,
                     "annotations": {DEFAULT_ANNOTATION: "true"},
                     "labels": {"app.kubernetes.io/managed-by": "localsvc"}},
        "spec": {"controller": CONTROLLER},
    }


def is_default(cls: Mapping[str, Any]) -> bool:
    annotations = (cls.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(DEFAULT_ANNOTATION, "")).lower() == "true"


def class_name(ingress: Mapping[str, Any]) -> str | None:
    """The class an Ingress asks for: spec.ingressClassName, else the deprecated annotation."""
    name = (ingress.get("spec") or {}).get("ingressClassName")
    if name:
        return str(name)
    annotation = ((ingress.get("metadata") or {}).get("annotations") or {}).get(CLASS_ANNOTATION)
    return str(annotation) if annotation else None


def our_classes(classes: Iterable[Mapping[str, Any]]) -> tuple[set[str], bool]:
    """The names of the classes served by this controller, and whether a class-less Ingress is
    ours: it is when the default classes (those annotated is-default-class) are all ours, or when
    there is none (the node's own class is a default one, so that means it was overridden by an
    applied class of the same name that is not marked default: still ours)."""
    ours: set[str] = set()
    defaults: list[bool] = []
    for cls in classes:
        name = str((cls.get("metadata") or {}).get("name", ""))
        mine = (cls.get("spec") or {}).get("controller") == CONTROLLER
        if mine:
            ours.add(name)
        if is_default(cls):
            defaults.append(mine)
    return ours, all(defaults) if defaults else True


def serves(ingress: Mapping[str, Any], ours: set[str], classless_ours: bool) -> bool:
    """Whether this controller serves `ingress` (see our_classes)."""
    name = class_name(ingress)
    return classless_ours if name is None else name in ours


def ingress_classes(applied: Iterable[Obj], created: str) -> list[Obj]:
    """Every IngressClass there is: the applied ones, and the node's own unless one of its name
    is applied."""
    classes = list(applied)
    if not any((c.get("metadata") or {}).get("name") == DEFAULT_CLASS for c in classes):
        classes.append(default_ingress_class(created))
    return classes
