"""Readiness, liveness and startup probes."""

from __future__ import annotations

from functools import partial
from typing import Any

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
        if handler == "httpGet":
            check.string(action.get("path"), child_path(at(handler), "path"))
            check.one_of(action.get("scheme"), child_path(at(handler), "scheme"), ("HTTP", "HTTPS"))
    check.integer(probe.get("initialDelaySeconds"), at("initialDelaySeconds"), low=0)
    for key in ("periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"):
        # 0 is allowed: the API server replaces it with the default.
        check.integer(probe.get(key), at(key), low=0)
    if liveness and probe.get("successThreshold") not in (None, 0, 1):
        check.add(
            at("successThreshold"),
            f"must be 1 for liveness and startup probes (got {show(probe['successThreshold'])})",
        )
