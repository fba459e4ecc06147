"""Choosing the engine as the docker CLI does: DOCKER_HOST, DOCKER_CONTEXT, config.json, default
(temp config directories, no engine needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from localsvc.errors import EngineError
from localsvc.runtime import engine
from localsvc.runtime.engine import Endpoint, engine_socket_path, resolve_endpoint


def _context(config: Path, name: str, host: str, tls: bool = False) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": name, "Metadata": {},
                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if tls:
        (config / "contexts" / "tls" / digest / "docker").mkdir(parents=True)
    return meta


def _use(config: Path, name: str) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_default_socket_without_any_setting(tmp_path: Path) -> None:
    endpoint = resolve_endpoint({"HOME": str(tmp_path)})
    assert endpoint == Endpoint("unix:///var/run/docker.sock")
    assert engine_socket_path(endpoint) == "/var/run/docker.sock"


def test_docker_host_wins_over_contexts(tmp_path: Path) -> None:
    _context(tmp_path, "remote", "tcp://10.0.0.1:2376")
    _use(tmp_path, "remote")
    environ = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "remote",
               "DOCKER_HOST": "unix:///run/user/1000/docker.sock"}
    endpoint = resolve_endpoint(environ)
    assert (endpoint.host, endpoint.source) == ("unix:///run/user/1000/docker.sock", "DOCKER_HOST")
    assert engine_socket_path(endpoint) == "/run/user/1000/docker.sock"


def test_docker_context_wins_over_the_current_context(tmp_path: Path) -> None:
    _context(tmp_path, "rootless", "unix:///run/user/1000/docker.sock")
    _context(tmp_path, "other", "unix:///srv/other.sock")
    _use(tmp_path, "other")
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "rootless"})
    assert endpoint.host == "unix:///run/user/1000/docker.sock"
    assert endpoint.context == "rootless" and "DOCKER_CONTEXT" in endpoint.source


def test_current_context_of_config_json_under_home(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    _context(config, "podman", "unix:///run/podman/podman.sock", tls=True)
    _use(config, "podman")
    endpoint = resolve_endpoint({"HOME": str(tmp_path)})
    assert endpoint.host == "unix:///run/podman/podman.sock"
    tls = config / "contexts" / "tls" / engine.context_dir_name("podman") / "docker"
    assert endpoint.tls_dir == tls
    assert engine_socket_path(endpoint) == "/run/podman/podman.sock"


def test_default_context_by_name_is_the_default_socket(tmp_path: Path) -> None:
    _use(tmp_path, "default")
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)}).host == engine.DEFAULT_HOST
    assert resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "default"}).host \
        == engine.DEFAULT_HOST


def test_remote_engine_mounts_its_own_default_socket(tmp_path: Path) -> None:
    _context(tmp_path, "ci", "ssh://builder@ci.example")
    endpoint = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "ci"})
    assert endpoint.host == "ssh://builder@ci.example"
    assert engine_socket_path(endpoint) == "/var/run/docker.sock"
    assert engine.engine_is_remote(endpoint)
    assert not engine.engine_is_remote(Endpoint("unix:///run/user/1000/docker.sock"))


def test_missing_context_names_the_file_and_the_fix(tmp_path: Path) -> None:
    expected = r"'nope' \(from DOCKER_CONTEXT\).*meta.json.*docker context ls"
    with pytest.raises(EngineError, match=expected):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "nope"})


def test_broken_context_meta_names_the_field(tmp_path: Path) -> None:
    _context(tmp_path, "bad", "unix:///x").write_text('{"Endpoints": {}}')
    with pytest.raises(EngineError, match=r"meta.json: field Endpoints.docker.Host"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "bad"})


def test_broken_config_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EngineError, match=r"config.json: cannot read"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})


def test_connect_names_the_endpoint_and_its_source(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A socket path that does not exist: the connection fails on this machine, no network.
    _context(tmp_path, "gone", f"unix://{tmp_path}/missing.sock")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(EngineError, match=r"missing.sock \(chosen by docker context 'gone'"):
        engine.connect(timeout=5)
