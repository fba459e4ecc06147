"""Checking loaded manifests the way the Kubernetes API server would, for the fields localsvc runs.

This package owns the field rules of the supported kinds and the wording of their problems: each
problem names the file, line, object, field path, what is wrong and what is accepted. One module
per concept (metadata, pods, env, volumes, probes, selectors, deployments, services, config,
endpoints, serviceaccounts); `check` holds the shared value checks. It is pure: it reads `Manifest` objects and
returns `Problem` values; it never raises for bad input, never mutates a manifest and knows
nothing of Docker or of the running environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from localsvc.errors import Problem
from localsvc.model import names
from localsvc.model.fields import unknown_fields
from localsvc.model.load import Manifest
from localsvc.model.objects import BUILTIN_NAMESPACES
from localsvc.model.validate.check import Check
from localsvc.model.validate.claims import check_claim
from localsvc.model.validate.batch import check_cronjob, check_job
from localsvc.model.validate.config import check_configmap, check_secret
from localsvc.model.validate.daemonsets import check_daemonset
from localsvc.model.validate.deployments import MAX_REPLICAS, check_deployment
from localsvc.model.validate.endpoints import check_endpoints, check_endpointslice
from localsvc.model.validate.env import FIELD_PATHS
from localsvc.model.validate.ingress import check_ingress, check_ingress_class
from localsvc.model.validate.metadata import check_duplicate, check_metadata
from localsvc.model.validate.pods import check_pod
from localsvc.model.validate.probes import PROBE_HANDLERS
from localsvc.model.validate.serviceaccounts import check_service_account
from localsvc.model.validate.services import check_service
from localsvc.model.validate.statefulsets import check_statefulset, statefulset_update_problems
from localsvc.model.validate.updates import update_problems
from localsvc.model.validate.volumes import SUPPORTED_VOLUMES

__all__ = [
    "FIELD_PATHS",
    "MAX_REPLICAS",
    "PROBE_HANDLERS",
    "SUPPORTED_VOLUMES",
    "statefulset_update_problems",
    "undeclared_namespaces",
    "update_problems",
    "validate",
]


def validate(manifests: Sequence[Manifest]) -> list[Problem]:
    """Every problem of `manifests` at once, in file order (files as first met, then lines)."""
    problems: list[Problem] = []
    first_seen: dict[Any, Manifest] = {}
    for m in manifests:
        check = Check(m)
        check_object(check)
        check_duplicate(check, first_seen)
        problems.extend(check.problems)
    files: dict[str, int] = {}
    for m in manifests:
        files.setdefault(m.file, len(files))
    return sorted(problems, key=lambda p: (files.get(p.file, len(files)), p.line or 0))


def undeclared_namespaces(manifests: Sequence[Manifest]) -> list[str]:
    """Namespaces objects use that no Namespace object declares (built-in ones excepted)."""
    declared = {m.name for m in manifests if m.kind == "Namespace"}
    used = {m.namespace for m in manifests if m.namespace}
    return sorted(used - declared - BUILTIN_NAMESPACES)


def check_object(check: Check) -> None:
    kind = check.m.kind
    name_rule = {
        "Namespace": names.dns1123_label_error,
        "Service": names.dns1035_label_error,
    }.get(kind, names.dns1123_subdomain_error)
    check_metadata(check, check.m.obj.get("metadata"), "metadata", name_rule)
    spec_checks: dict[str, Callable[[Check], None]] = {
        "Pod": check_pod,
        "Deployment": check_deployment,
        "Service": check_service,
        "ConfigMap": check_configmap,
        "Secret": check_secret,
        "ServiceAccount": check_service_account,
        "Endpoints": check_endpoints,
        "EndpointSlice": check_endpointslice,
        "PersistentVolumeClaim": check_claim,
        "Ingress": check_ingress,
        "IngressClass": check_ingress_class,
        "StatefulSet": check_statefulset,
        "Job": check_job,
        "CronJob": check_cronjob,
        "DaemonSet": check_daemonset,
    }
    if kind in spec_checks:
        spec_checks[kind](check)
    check_unknown_fields(check)


def check_unknown_fields(check: Check) -> None:
    """Keys the official schema of the kind does not have: kubectl's default strict validation
    rejects them, and a typo silently dropped would run something else than what was meant."""
    for unknown in unknown_fields(check.m.kind, check.m.obj):
        check.add(unknown.path, unknown.message(check.m.kind))
