"""localsvc.runtime.images against the real Docker engine (no registry needed)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import pytest

from localsvc.errors import ImageError
from localsvc.runtime import images

pytestmark = pytest.mark.integration

IMPORTS = "import localsvc, aiohttp, dnslib, docker, yaml, watchfiles, uvloop; print('ok')"


def _run(docker_client: docker.DockerClient, image: str, *command: str, **kwargs: object) -> str:
    out = docker_client.containers.run(
        image, entrypoint=list(command[:1]), command=list(command[1:]), remove=True, **kwargs
    )
    return out.decode() if isinstance(out, bytes) else str(out)


def test_node_image_has_the_expected_tag_and_label(
    docker_client: docker.DockerClient, node_image: str
) -> None:
    assert node_image == images.node_image_tag()
    labels = docker_client.images.get(node_image).labels
    assert labels.get("io.localsvc.image") == "node"


def test_node_image_imports_every_dependency(docker_client: docker.DockerClient, node_image: str) -> None:
    assert _run(docker_client, node_image, "python3", "-c", IMPORTS).strip() == "ok"


def test_node_image_runs_python_3_11_from_the_venv(
    docker_client: docker.DockerClient, node_image: str
) -> None:
    code = "import sys, localsvc; print(sys.version_info[:2], sys.prefix, localsvc.__file__)"
    out = _run(docker_client, node_image, "python3", "-c", code)
    assert out.startswith("(3, 11) /opt/localsvc /opt/localsvc/src/localsvc/")


def test_node_image_has_ip_and_nft(docker_client: docker.DockerClient, node_image: str) -> None:
    out = _run(docker_client, node_image, "sh", "-c", "for t in ip nft ps; do command -v $t; done")
    assert [Path(p).name for p in out.split()] == ["ip", "nft", "ps"]
    # nft really works with NET_ADMIN (the node programs its service proxy with it).
    ruleset = _run(
        docker_client,
        node_image,
        "sh",
        "-c",
        "nft add table ip t && nft list tables && ip -brief addr show lo",
        cap_add=["NET_ADMIN"],
    )
    assert "table ip t" in ruleset and "lo" in ruleset


def test_second_ensure_is_cached_and_fast(docker_client: docker.DockerClient, node_image: str) -> None:
    lines: list[str] = []
    started = time.monotonic()
    assert images.ensure_node_image(docker_client, lines.append) == node_image
    assert time.monotonic() - started < 1.0
    assert lines == []


def test_base_image_is_cached(docker_client: docker.DockerClient, node_image: str) -> None:
    started = time.monotonic()
    base = images.ensure_base_image(docker_client, lambda line: None)
    assert time.monotonic() - started < 1.0
    out = _run(docker_client, base, "python3", "-c", "import sys; print(sys.version_info[:2])")
    assert out.strip() == "(3, 11)"


def test_node_image_override_must_exist(
    docker_client: docker.DockerClient, node_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    assert images.ensure_node_image(docker_client, lambda line: None) == node_image
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", "localsvc-test/does-not-exist:1")
    monkeypatch.setenv("LOCALSVC_OFFLINE", "1")
    with pytest.raises(ImageError, match="LOCALSVC_NODE_IMAGE"):
        images.ensure_node_image(docker_client, lambda line: None)


def test_build_image_reports_steps_and_returns_tag(
    docker_client: docker.DockerClient, node_image: str, tmp_path: Path
) -> None:
    base = images.ensure_base_image(docker_client, lambda line: None)
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN echo built > /built\n")
    tag = "localsvc-test/build-ok:1"
    lines: list[str] = []
    try:
        assert (
            images.build_image(
                docker_client,
                tmp_path,
                tag,
                lines.append,
                buildargs={"BASE": base},
                labels={"io.localsvc.test": "1"},
            )
            == tag
        )
        assert lines[0] == f"building {tag} from {tmp_path} with BuildKit (engine API)"
        assert any("RUN echo built" in line for line in lines)
        assert docker_client.images.get(tag).labels.get("io.localsvc.test") == "1"
    finally:
        docker_client.images.remove(tag, force=True)


@pytest.mark.parametrize(("builder", "cause"), [
    ("buildkit", "exit code: 3"), ("legacy", "non-zero code: 3")])
def test_build_image_failure_carries_the_log(
    docker_client: docker.DockerClient, node_image: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, builder: str, cause: str,
) -> None:
    monkeypatch.setenv("LOCALSVC_BUILDER", builder)
    base = images.ensure_base_image(docker_client, lambda line: None)
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN echo the-cause-is-here >&2; exit 3\n"
    )
    with pytest.raises(ImageError) as failure:
        images.build_image(
            docker_client,
            tmp_path,
            "localsvc-test/build-fail:1",
            lambda line: None,
            buildargs={"BASE": base},
        )
    message = str(failure.value)
    assert "localsvc-test/build-fail:1" in message
    assert "the-cause-is-here" in message
    assert cause in message


def test_missing_node_image_fails_before_anything_is_created(
    docker_client: docker.DockerClient, node_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from localsvc.host.api import Environment
    from localsvc.runtime import environment as envrt
    from localsvc.runtime import labels as L

    name = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", "localsvc-test/does-not-exist:1")
    monkeypatch.setenv("LOCALSVC_OFFLINE", "1")  # no pull attempt: this test stays on the machine
    environment = Environment(name)
    try:
        with pytest.raises(ImageError, match="LOCALSVC_NODE_IMAGE=localsvc-test/does-not-exist:1 "
                                             "is not on this Docker engine"):
            environment.ensure()
        assert envrt.find(docker_client, name) is None
        filters = {"label": [f"{L.ENV}={name}"]}
        assert docker_client.networks.list(filters=filters) == []
        assert docker_client.volumes.list(filters=filters) == []
        assert docker_client.containers.list(all=True, filters=filters) == []
    finally:
        envrt.destroy(docker_client, name)


def test_missing_node_image_through_the_cli_is_the_same_clear_error(
    docker_client: docker.DockerClient, node_image: str
) -> None:
    """The CLI once passed LOCALSVC_NODE_IMAGE straight to Environment, skipping its check:
    a missing image then failed later with a raw Docker error."""
    import os
    import subprocess
    import sys

    from localsvc.runtime import labels as L

    name = f"t{uuid.uuid4().hex[:8]}"
    environ = dict(os.environ, LOCALSVC_NODE_IMAGE="localsvc-test/does-not-exist:1",
                   LOCALSVC_OFFLINE="1", NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "localsvc", "--env", name, "up", "-d", "-f",
                           "examples/backend-service"], cwd=Path(__file__).resolve().parents[2],
                          env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LOCALSVC_NODE_IMAGE=localsvc-test/does-not-exist:1 is not on this Docker engine" \
        in done.stderr
    filters = {"label": [f"{L.ENV}={name}"]}
    assert docker_client.networks.list(filters=filters) == []
    assert docker_client.containers.list(all=True, filters=filters) == []
