"""pods/log, the pure part: PodLogOptions from the query, which container's log to read, and the
shaping of the log bytes (timestamps as the kubelet prints them, limitBytes).

The API server decodes the query into PodLogOptions (a bad number is a 400 BadRequest with
strconv's words), validates it (422 Invalid, kind PodLogOptions, ValidatePodLogOptions' words),
then chooses the container (LogLocation: 400 BadRequest); the kubelet then picks the Docker
container from the pod's status (validateContainerLogStatus: its errors reach kubectl as 400
BadRequest with the kubelet's text). Each step here returns or raises what they answer.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.clock import rfc3339_seconds
from localsvc.model.kubeapi.connectquery import (Query, bare_container_id, container_status,
                                                 query_bool, query_int, query_str)

Obj = dict[str, Any]

NEGATIVE = "must be greater than or equal to 0"
NOT_POSITIVE = "must be greater than 0"
BOTH_SINCE = "at most one of `sinceTime` or `sinceSeconds` may be specified"


@dataclass(frozen=True)
class PodLogOptions:
    """core/v1 PodLogOptions as the query gives them (None: not given)."""

    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: datetime | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None

    def since_epoch(self, now: float) -> float | None:
        """The earliest log time to show, in Unix seconds (now: the request's time)."""
        if self.since_seconds is not None:
            return now - self.since_seconds
        if self.since_time is not None:
            return self.since_time.timestamp()
        return None


def parse_rfc3339(text: str) -> datetime:
    """metav1.Time from a query value (time.RFC3339; a fraction is accepted, as Go does)."""
    seconds = rfc3339_seconds(text)
    if seconds is None:
        raise ApiError(st.bad_request(
            f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse "{text}" as '
            f'an RFC 3339 time; write it like 2006-01-02T15:04:05Z'))
    return datetime.fromtimestamp(seconds, timezone.utc)


def parse_options(query: Query) -> PodLogOptions:
    """PodLogOptions from the query (each name to all its values), validated as the API server
    does: 400 for what does not decode, 422 Invalid for what ValidatePodLogOptions refuses."""
    since_time = query_str(query, "sinceTime")
    return PodLogOptions(
        container=query_str(query, "container"),
        follow=query_bool(query, "follow"),
        previous=query_bool(query, "previous"),
        timestamps=query_bool(query, "timestamps"),
        since_seconds=query_int(query, "sinceSeconds"),
        since_time=parse_rfc3339(since_time) if since_time else None,
        tail_lines=query_int(query, "tailLines"),
        limit_bytes=query_int(query, "limitBytes"),
    )


def validate(options: PodLogOptions, pod_name: str) -> None:
    """ValidatePodLogOptions: 422 `PodLogOptions "p" is invalid: tailLines: ...`."""
    errors: list[st.FieldError] = []
    if options.tail_lines is not None and options.tail_lines < 0:
        errors.append(st.FieldError("FieldValueInvalid", "tailLines", options.tail_lines,
                                    NEGATIVE))
    if options.limit_bytes is not None and options.limit_bytes < 1:
        errors.append(st.FieldError("FieldValueInvalid", "limitBytes", options.limit_bytes,
                                    NOT_POSITIVE))
    if options.since_seconds is not None and options.since_time is not None:
        errors.append(st.FieldError("FieldValueForbidden", "", detail=BOTH_SINCE))
    elif options.since_seconds is not None and options.since_seconds < 1:
        errors.append(st.FieldError("FieldValueInvalid", "sinceSeconds", options.since_seconds,
                                    NOT_POSITIVE))
    if errors:
        raise ApiError(st.invalid("PodLogOptions", "", pod_name, errors))


def docker_container_id(pod: Obj, container: str, previous: bool) -> str:
    """validateContainerLogStatus: the id of the container instance whose log is asked for."""
    name = (pod.get("metadata") or {}).get("name", "")
    found = container_status(pod, container)
    where = f'container "{container}" in pod "{name}"'
    if found is None:
        raise ApiError(st.bad_request(f"{where} is not available"))
    state = found.get("state") or {}
    last = (found.get("lastState") or {}).get("terminated") or {}
    last_id = bare_container_id(last.get("containerID"))
    if previous:
        if not last_id:
            raise ApiError(st.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'))
        return last_id
    if "running" in state:
        return bare_container_id(found.get("containerID"))
    if "terminated" in state:
        own = bare_container_id((state["terminated"] or {}).get("containerID"))
        if own or last_id:
            return own or last_id
        raise ApiError(st.bad_request(f"{where} is terminated"))
    if last:
        if not last_id:
            raise ApiError(st.bad_request(f"{where} is terminated"))
        return last_id
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason") or ""
        words = {"ErrImagePull": "image can't be pulled",
                 "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
        raise ApiError(st.bad_request(f"{where} is waiting to start: {words}"))
    raise ApiError(st.bad_request(f"{where} is waiting to start - no logs yet"))


def docker_log_query(options: PodLogOptions, now: float) -> str:
    """The query of the engine's GET /containers/ID/logs for `options` (now: the request's
    time, in Unix seconds)."""
    params = {"stdout": "1", "stderr": "1", "follow": str(int(options.follow)),
              "timestamps": str(int(options.timestamps))}
    if options.tail_lines is not None:
        params["tail"] = str(options.tail_lines)
    since = options.since_epoch(now)
    if since is not None and since > 0:
        params["since"] = f"{since:.9f}"  # seconds.nanoseconds, as the engine reads it
    return urllib.parse.urlencode(params)


# Docker: "2026-12-07T08:37:01.123456700Z " (fixed nine digits); the kubelet prints Go's
# RFC3339Nano, whose fraction drops trailing zeros (and the dot when nothing is left).
# At every line start: a TTY container's log comes as raw blocks of several lines.
_DOCKER_STAMP = re.compile(rb"(?m)^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")


def _kubelet_stamp(match: re.Match[bytes]) -> bytes:
    fraction = (match.group(2) or b"").rstrip(b"0")
    return match.group(1) + (b"." + fraction if fraction else b"") + b"Z "


def kubelet_timestamp(data: bytes) -> bytes:
    """Log bytes from Docker with timestamps=true, each line's leading timestamp as the
    kubelet writes it."""
    return _DOCKER_STAMP.sub(_kubelet_stamp, data)


class ByteBudget:
    """limitBytes: the bytes still allowed; the kubelet cuts the log at the limit, mid-line."""

    def __init__(self, limit: int | None):
        self.left = limit

    @property
    def spent(self) -> bool:
        return self.left is not None and self.left <= 0

    def take(self, data: bytes) -> bytes:
        if self.left is None:
            return data
        data = data[:max(self.left, 0)]
        self.left -= len(data)
        return data


__all__ = [
    "ByteBudget",
    "PodLogOptions",
    "docker_container_id",
    "docker_log_query",
    "kubelet_timestamp",
    "parse_options",
    "parse_rfc3339",
    "validate",
]
