"""Tests of localsvc.model.hostpath (the kubelet's hostPath type checks as decisions) and of the
CLI's local check (localsvc.host.hostpaths, on this machine's files)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from localsvc.host.hostpaths import host_path_problems, host_path_warnings, local_kind
from localsvc.model import hostpath as hp
from localsvc.model.load import load_text


@pytest.mark.parametrize(("mode", "kind"), [
    (0o644, hp.FILE),
    ((1 << 31) | 0o755, hp.DIRECTORY),
    ((1 << 24) | 0o660, hp.SOCKET),
    ((1 << 26) | (1 << 21) | 0o666, hp.CHAR_DEVICE),
    ((1 << 26) | 0o660, hp.BLOCK_DEVICE),
    ((1 << 25) | 0o600, hp.OTHER),  # a named pipe
])
def test_kind_of_docker_stat_mode(mode: int, kind: str) -> None:
    assert hp.kind_of_go_mode(mode) == kind


@pytest.mark.parametrize(("path_type", "kind", "parent", "expected"), [
    ("", hp.MISSING, True, hp.Decision()),
    ("", hp.FILE, True, hp.Decision()),
    ("DirectoryOrCreate", hp.MISSING, True, hp.Decision()),
    ("DirectoryOrCreate", hp.DIRECTORY, True, hp.Decision()),
    ("DirectoryOrCreate", hp.FILE, True,
     hp.Decision(error="hostPath type check failed: /p is not a directory")),
    ("Directory", hp.MISSING, True,
     hp.Decision(error="hostPath type check failed: /p is not a directory")),
    ("Directory", hp.DIRECTORY, True, hp.Decision()),
    ("FileOrCreate", hp.MISSING, True, hp.Decision(create_file=True)),
    ("FileOrCreate", hp.MISSING, False,
     hp.Decision(error="open /p: no such file or directory")),
    ("FileOrCreate", hp.DIRECTORY, True,
     hp.Decision(error="hostPath type check failed: /p is not a file")),
    ("File", hp.FILE, True, hp.Decision()),
    ("File", hp.MISSING, True, hp.Decision(error="hostPath type check failed: /p is not a file")),
    ("File", hp.SOCKET, True, hp.Decision(error="hostPath type check failed: /p is not a file")),
    ("Socket", hp.SOCKET, True, hp.Decision()),
    ("Socket", hp.FILE, True,
     hp.Decision(error="hostPath type check failed: /p is not a socket file")),
    ("CharDevice", hp.CHAR_DEVICE, True, hp.Decision()),
    ("CharDevice", hp.BLOCK_DEVICE, True,
     hp.Decision(error="hostPath type check failed: /p is not a character device")),
    ("BlockDevice", hp.BLOCK_DEVICE, True, hp.Decision()),
    ("BlockDevice", hp.MISSING, True,
     hp.Decision(error="hostPath type check failed: /p is not a block device")),
])
def test_decide(path_type: str, kind: str, parent: bool, expected: hp.Decision) -> None:
    assert hp.decide(path_type, "/p", kind, parent) == expected


def test_creates_directory_only_for_no_type_and_directory_or_create() -> None:
    assert hp.creates_directory("") and hp.creates_directory("DirectoryOrCreate")
    for path_type in ("Directory", "File", "FileOrCreate", "Socket", "CharDevice", "BlockDevice"):
        assert not hp.creates_directory(path_type)


def test_failure_names_volume_path_fix_and_where_it_is_looked_up() -> None:
    message = hp.failure("src", "Directory", "/home/me/src", hp.MISSING,
                         "hostPath type check failed: /home/me/src is not a directory")
    assert message.startswith('MountVolume.SetUp failed for volume "src" : hostPath type check '
                              "failed: /home/me/src is not a directory")
    assert "create the directory, or use type DirectoryOrCreate" in message
    assert "remote engine" in message
    assert "it is a file: fix the path or the type" in hp.failure("v", "Directory", "/f",
                                                                  hp.FILE, "x")


def test_host_path_volumes_of_each_workload_kind() -> None:
    volumes = [{"name": "a", "hostPath": {"path": "/a", "type": "Directory"}},
               {"name": "b", "hostPath": {"path": "/b"}},
               {"name": "c", "emptyDir": {}},
               {"name": "d", "hostPath": {"path": "/d", "type": "Nonsense"}}]  # validation's
    pod_spec = {"containers": [], "volumes": volumes}
    assert hp.host_path_volumes("Pod", {"spec": pod_spec}) == [
        ("spec.volumes[0].hostPath.path", "/a", "Directory"),
        ("spec.volumes[1].hostPath.path", "/b", "")]
    assert hp.host_path_volumes("Deployment", {"spec": {"template": {"spec": pod_spec}}})[0] == \
        ("spec.template.spec.volumes[0].hostPath.path", "/a", "Directory")
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}}
    assert hp.host_path_volumes("CronJob", cron)[0][0] == \
        "spec.jobTemplate.spec.template.spec.volumes[0].hostPath.path"
    assert hp.host_path_volumes("ConfigMap", {"data": {}}) == []


def test_local_kind(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert local_kind(str(tmp_path)) == hp.DIRECTORY
    assert local_kind(str(tmp_path / "f")) == hp.FILE
    assert local_kind(str(tmp_path / "nope")) == hp.MISSING
    assert local_kind("/dev/null") == hp.CHAR_DEVICE
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.sock"))
        assert local_kind(str(tmp_path / "s.sock")) == hp.SOCKET


def test_cli_check_names_file_line_and_field(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    (tmp_path / "file").write_text("")
    text = f"""apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers: [{{name: c, image: x:1}}]
  volumes:
  - name: a
    hostPath: {{path: {tmp_path}/missing, type: Directory}}
  - name: b
    hostPath: {{path: {tmp_path}/file, type: File}}
  - name: c
    hostPath: {{path: {tmp_path}/new, type: DirectoryOrCreate}}
  - name: d
    hostPath: {{path: {tmp_path}/no/parent, type: FileOrCreate}}
"""
    manifests = load_text(text, "p.yaml").manifests
    assert [str(p) for p in host_path_problems(manifests)] == [
        f"p.yaml:8: Pod/p: spec.volumes[0].hostPath.path: hostPath type check failed: "
        f"{tmp_path}/missing is not a directory (type Directory, checked on this machine, "
        "whose files the local Docker engine mounts): create the directory, or use type "
        "DirectoryOrCreate",
        f"p.yaml:14: Pod/p: spec.volumes[3].hostPath.path: open {tmp_path}/no/parent: no such "
        "file or directory (type FileOrCreate, checked on this machine, whose files the local "
        "Docker engine mounts): create its parent directory",
    ]
    assert host_path_warnings(manifests) == []
    monkeypatch.setenv("DOCKER_HOST", "tcp://build-box:2376")  # its files are elsewhere
    assert host_path_problems(manifests) == []
    assert host_path_warnings(manifests) == [
        f"p.yaml:8: Pod/p: spec.volumes[0].hostPath.path: {tmp_path}/missing is looked up on "
        "the Docker engine's host, and a remote engine (DOCKER_HOST=tcp://... or ssh://...) "
        "sees its own files, not this machine's"]
