"""Readiness, liveness and startup probes."""

from __future__ import annotations

from functools import partial
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show

PROBE_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def check_probe(check: Check, value: Any, path: str, liveness: bool) -> None:
    probe = check.mapping(value, path)
    if probe is None:
        return
    at = partial(child_path, path)
    handler = check.exactly_one(probe, path, PROBE_HANDLERS, "a handler type")
    if handler is not None:
        action = check.mapping(probe[handler], at(handler)) or {}
        port_path = child_path(at(handler), "port")
        if handler in ("httpGet", "tcpSocket"):
            check.int_or_port_name(action.get("port"), port_path)
        elif handler == "grpc":
            check.port(action.get("port"), port_path)
        else:
            command_path = child_path(at(handler), "command")
            command = check.items(action.get("command"), command_path, required=True)
            if command == []:
                check.add(command_path, "must have at least one item: the program to run")
            for index, arg in enumerate(command or []):
                check.string(arg, child_path(command_path, index))
        if handler in ("httpGet", "tcpSocket"):
            host_path = child_path(at(handler), "host")
            check.name(action.get("host"), host_path, names.host_error, required=False)
        if handler == "httpGet":
            check_http_get(check, action, at(handler))
    check.integer(probe.get("initialDelaySeconds"), at("initialDelaySeconds"), low=0)
    for key in ("periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        # 0 is allowed: the API server replaces it with the default.
        check.integer(probe.get(key), at(key), low=0)
    if liveness and probe.get("successThreshold") not in (None, 0, 1):
        check.add(
            at("successThreshold"),
            f"must be 1 for liveness and startup probes (got {show(probe['successThreshold'])})",
        )


def check_http_get(check: Check, action: dict[str, Any], path: str) -> None:
    """The parts of an httpGet probe that go into the request the prober writes.

    A path without a leading '/' is accepted, as by the API server; the kubelet sends it after
    a '/' (Go's URL formatting adds one between host and path). CR, LF or NUL in the path or a
    header would split that request, so they are rejected.
    """
    at = partial(child_path, path)
    check.name(action.get("path"), at("path"), names.line_break_error, required=False)
    check.one_of(action.get("scheme"), at("scheme"), ("HTTP", "HTTPS"))
    for item_path, header in check.mappings(action.get("httpHeaders"), at("httpHeaders")):
        check.name(header.get("name"), child_path(item_path, "name"), names.http_header_name_error)
        value_path = child_path(item_path, "value")
        check.name(header.get("value"), value_path, names.line_break_error, required=False)
