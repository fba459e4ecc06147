"""Image builds on the real engine: BuildKit through the engine API, the legacy builder, the
whole log of a failed build, and .dockerignore in contexts and content hashes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from localsvc.host.devloop.builds import ensure_project_image
from localsvc.errors import ImageError
from localsvc.model.project import ImageBuild
from localsvc.runtime import images

pytestmark = pytest.mark.integration


@pytest.fixture
def tag(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"localsvc-test/build-{uuid.uuid4().hex[:8]}:1"
    yield name
    try:
        docker_client.images.remove(name, force=True)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture
def base(docker_client: docker.DockerClient, node_image: str) -> str:
    return images.ensure_base_image(docker_client, lambda line: None)


def _run(client: docker.DockerClient, image: str, script: str) -> str:
    out = client.containers.run(image, entrypoint=["sh", "-c"], command=[script], remove=True)
    return out.decode() if isinstance(out, bytes) else str(out)


def test_buildkit_build_keeps_a_cache_mount_between_builds(
    docker_client: docker.DockerClient, base: str, tag: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOCALSVC_BUILDER", raising=False)
    cache_id = f"localsvc-test-{uuid.uuid4().hex[:8]}"
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nCOPY stamp /stamp\n"
        f"RUN --mount=type=cache,target=/cache,id={cache_id} "
        "echo run >> /cache/runs && wc -l < /cache/runs > /count\n"
    )
    counts = []
    for stamp in ("one", "two"):  # a new stamp busts the layer cache, not the cache mount
        (tmp_path / "stamp").write_text(stamp)
        lines: list[str] = []
        images.build_image(docker_client, tmp_path, tag, lines.append, buildargs={"BASE": base})
        assert lines[0] == f"building {tag} from {tmp_path} with BuildKit (engine API)"
        assert any("RUN --mount=type=cache" in line for line in lines)
        counts.append(_run(docker_client, tag, "cat /count").strip())
    assert counts == ["1", "2"]


def test_buildkit_failure_shows_the_whole_log(
    docker_client: docker.DockerClient, base: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\n"
        "RUN for i in $(seq 1 60); do echo log-line-$i; done; echo the-cause-is-here >&2; exit 3\n"
    )
    with pytest.raises(ImageError) as failure:
        images.build_image(docker_client, tmp_path, "localsvc-test/build-fail:1",
                           lambda line: None, buildargs={"BASE": base})
    message = str(failure.value)
    assert "with BuildKit failed" in message and "exit code: 3" in message
    # Every line, not a tail: the first of 60 output lines is there too.
    assert all(f"log-line-{i}\n" in message + "\n" for i in (1, 30, 60))
    assert "the-cause-is-here" in message


def test_heredoc_on_the_builtin_frontend_fails_with_a_hint(
    docker_client: docker.DockerClient, base: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN <<EOF\necho from-a-heredoc\nEOF\n")
    try:
        images.build_image(docker_client, tmp_path, "localsvc-test/heredoc:1", lambda line: None,
                           buildargs={"BASE": base})
    except ImageError as err:
        assert "hint: heredocs" in str(err)
    else:  # an engine whose built-in frontend has heredocs: then the image must exist
        assert docker_client.images.get("localsvc-test/heredoc:1").id
        docker_client.images.remove("localsvc-test/heredoc:1", force=True)


def test_legacy_builder_when_asked(
    docker_client: docker.DockerClient, base: str, tag: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALSVC_BUILDER", "legacy")
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN echo built > /built\n")
    lines: list[str] = []
    images.build_image(docker_client, tmp_path, tag, lines.append, buildargs={"BASE": base})
    assert lines[0] == (f"building {tag} from {tmp_path} with the legacy builder "
                        "(LOCALSVC_BUILDER=legacy)")
    assert any(line.startswith("Step ") and "RUN echo built" in line for line in lines)
    assert _run(docker_client, tag, "cat /built").strip() == "built"
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN --mount=type=cache,target=/c true\n")
    with pytest.raises(ImageError, match="legacy builder has no RUN --mount"):
        images.build_image(docker_client, tmp_path, tag, lines.append, buildargs={"BASE": base})


def test_dockerignore_keeps_files_out_and_their_edits_do_not_rebuild(
    docker_client: docker.DockerClient, base: str, tag: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("*.log\nsecrets/\n!secrets/public.txt\n")
    (tmp_path / "app.py").write_text("print('v1')\n")
    (tmp_path / "debug.log").write_text("one\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text("k\n")
    (tmp_path / "secrets" / "public.txt").write_text("p\n")
    build = ImageBuild(name=tag, context=tmp_path, dockerfile="Dockerfile", args={},
                       target=None, sync=())
    assert ensure_project_image(docker_client, build, lambda line: None)
    listing = _run(docker_client, tag, "cd /app && find . -type f | sort").split()
    assert listing == ["./.dockerignore", "./Dockerfile", "./app.py", "./secrets/public.txt"]
    image_id = docker_client.images.get(tag).id

    before = images.context_hash(tmp_path)
    (tmp_path / "debug.log").write_text("two\n")
    (tmp_path / "secrets" / "key").write_text("changed\n")
    (tmp_path / "trace.log").write_text("new\n")
    assert images.context_hash(tmp_path) == before
    assert not ensure_project_image(docker_client, build, lambda line: None)  # no build, no roll
    assert docker_client.images.get(tag).id == image_id

    (tmp_path / "secrets" / "public.txt").write_text("p2\n")  # the exception is sent: rebuild
    assert images.context_hash(tmp_path) != before
    assert ensure_project_image(docker_client, build, lambda line: None)
    assert _run(docker_client, tag, "cat /app/secrets/public.txt").strip() == "p2"
