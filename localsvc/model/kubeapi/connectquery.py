"""What a connect request (pods/log, pods/exec, pods/attach) says: its query read as the API
server's parameter codec reads it, and the container of the pod it addresses. Pure.

The codec (apimachinery runtime.Convert_Slice_string_To_bool/_int64, used by the generated
url.Values conversions of PodLogOptions, PodExecOptions, PodAttachOptions) looks at the first
value of a parameter only. A parameter that is absent keeps the type's default; one that is
present is false only for "0" and "false" in any case, so "?stdin", "?stdin=" and "?stdin=yes"
are all true. A number that does not parse is a 400 BadRequest with strconv's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError

Query = Mapping[str, Sequence[str]]  # each parameter's name to all its values, in order

_INTEGER = re.compile(r"[+-]?[0-9]+")


def query_bool(query: Query, name: str, default: bool = False) -> bool:
    """Convert_Slice_string_To_bool of `name`'s values; `default` when it is absent."""
    values = query.get(name) or []
    if not values:
        return default
    # strings.EqualFold: Unicode simple case folding, which casefold() covers for "false"
    return not (values[0] == "0" or values[0].casefold() == "false")


def query_int(query: Query, name: str) -> int | None:
    """Convert_Slice_string_To_int64 (strconv.ParseInt base 10) of `name`; None when absent."""
    values = query.get(name) or []
    if not values:
        return None
    text = values[0]
    number = integer_syntax(text)
    if number is None:
        raise ApiError(st.bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax'))
    if not -2**63 <= number < 2**63:
        raise ApiError(st.bad_request(f'strconv.ParseInt: parsing "{text}": value out of range'))
    return number


def integer_syntax(text: str) -> int | None:
    """`text` as a number when it has strconv.ParseInt's base-10 syntax (an optional sign, ASCII
    digits), else None. Its range is the caller's to judge."""
    return int(text) if _INTEGER.fullmatch(text) else None


def query_str(query: Query, name: str) -> str:
    """Convert_Slice_string_To_string: the first value, "" when absent."""
    values = query.get(name) or []
    return values[0] if values else ""


def _names(pod: Mapping[str, Any], field: str) -> list[str]:
    return [str(c.get("name", "")) for c in (pod.get("spec") or {}).get(field) or []]


def choose_container(pod: Mapping[str, Any], asked: str) -> str:
    """The container a request addresses, as the API server's LogLocation and streamLocation
    choose it: the one named (a container, init or ephemeral one), else the pod's only one."""
    name = str((pod.get("metadata") or {}).get("name", ""))
    containers = _names(pod, "containers")
    init = _names(pod, "initContainers")
    if asked:
        if asked not in containers + init + _names(pod, "ephemeralContainers"):
            raise ApiError(st.bad_request(f"container {asked} is not valid for pod {name}"))
        return asked
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise ApiError(st.bad_request(f"a container name must be specified for pod {name}"))
    message = (f"a container name must be specified for pod {name}, "
               f"choose one of: [{' '.join(containers)}]")
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    raise ApiError(st.bad_request(message))


def container_spec(pod: Mapping[str, Any], container: str) -> Mapping[str, Any]:
    """The spec of `container` (a container, init or ephemeral one); {} when there is none."""
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for entry in spec.get(field) or []:
            if entry.get("name") == container:
                return dict(entry)
    return {}


def container_status(pod: Mapping[str, Any], container: str) -> Mapping[str, Any] | None:
    """The status of `container` (a container, init or ephemeral one); None when it has none."""
    status = pod.get("status") or {}
    for field in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(field) or []:
            if entry.get("name") == container:
                return dict(entry)
    return None


def bare_container_id(container_id: Any) -> str:
    """A status's "docker://ID" as the engine's ID."""
    return str(container_id or "").split("://", 1)[-1]


__all__ = ["Query", "bare_container_id", "choose_container", "container_spec",
           "container_status", "integer_syntax", "query_bool", "query_int", "query_str"]
