"""The one named-port lookup shared by Services, probes and port-forward."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.model.ports import container_port

CONTAINERS: list[dict[str, Any]] = [
    {"name": "a", "ports": [{"name": "http", "containerPort": 8080}]},
    {"name": "b", "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 5353}]},
    {"name": "c"},
]


@pytest.mark.parametrize(
    "port, protocol, expected",
    [
        (80, None, 80),
        ("81", None, 81),
        ("http", None, 8080),
        ("http", "TCP", 8080),  # no protocol on the port means TCP
        ("http", "UDP", None),
        ("dns", "UDP", 53),
        ("dns", "TCP", None),
        ("dns", None, 53),
        ("dns-tcp", None, 5353),
        ("nope", None, None),
    ],
)
def test_container_port(port: Any, protocol: str | None, expected: int | None) -> None:
    assert container_port(port, CONTAINERS, protocol) == expected


def test_no_containers_has_no_named_port() -> None:
    assert container_port("http", []) is None
