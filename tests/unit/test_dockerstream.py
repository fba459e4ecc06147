"""Where the node finds the engine and what the engine's error bodies say, shared by pod logs
(aiohttp's client) and exec/attach streams (node/kubeapi/dockerstream.py)."""

from __future__ import annotations

import pytest

from localsvc.node.kubeapi.dockerstream import (
    DockerStreamError, EngineEndpoint, engine_endpoint, engine_message)


def test_the_engine_message_is_the_json_message_else_the_text() -> None:
    assert engine_message(b'{"message": "No such container: abc"}') == "No such container: abc"
    assert engine_message(b"page not found\n") == "page not found"
    assert engine_message(b'["not", "an object"]') == '["not", "an object"]'


def test_the_engine_endpoint_follows_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert engine_endpoint() == EngineEndpoint(path="/run/user/1000/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    assert engine_endpoint() == EngineEndpoint(host="127.0.0.1", port=2376)
    monkeypatch.setenv("DOCKER_HOST", "ssh://user@host")
    with pytest.raises(DockerStreamError, match="only unix:// and tcp://"):
        engine_endpoint()
