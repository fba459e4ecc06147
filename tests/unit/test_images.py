"""Pure parts of localsvc.runtime.images: tags, requirement parsing, pip arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.errors import ImageError
from localsvc.runtime import base_image, image_build, images, node_image

REQUIRES = [
    "docker<8,>=7.0",
    "aiohttp<4,>=3.9",
    "PyYAML<7,>=6.0",
    'pytest<10,>=8; extra == "test"',
    'uvloop<1,>=0.19; extra == "fast"',
    'tomli>=2; python_version < "3.11"',
]


def _tag(
    dockerfile: bytes = b"FROM x",
    files: list[tuple[str, bytes]] | None = None,
    reqs: list[str] | None = None,
    version: str = "0.1.0",
) -> str:
    files = files if files is not None else [("__init__.py", b"v=1"), ("a/b.py", b"pass")]
    return images.compute_node_tag(version, dockerfile, files, reqs or ["docker>=7"])


def test_node_tag_is_stable_and_well_formed() -> None:
    tag = _tag()
    assert tag == _tag()
    repo, _, name = tag.partition(":")
    assert repo == "localsvc/node"
    version, _, digest = name.rpartition("-")
    assert version == "0.1.0"
    assert len(digest) == 12 and all(c in "0123456789abcdef" for c in digest)


@pytest.mark.parametrize(
    "changed",
    [
        {"dockerfile": b"FROM y"},
        {"files": [("__init__.py", b"v=2"), ("a/b.py", b"pass")]},
        {"files": [("__init__.py", b"v=1"), ("a/c.py", b"pass")]},
        {"files": [("__init__.py", b"v=1")]},
        {"reqs": ["docker>=7", "uvloop"]},
        {"version": "0.2.0"},
    ],
)
def test_node_tag_changes_with_content(changed: dict[str, object]) -> None:
    assert _tag(**changed) != _tag()  # type: ignore[arg-type]


def test_node_tag_boundaries_are_unambiguous() -> None:
    # Moving bytes between a path and its content must change the hash.
    assert _tag(files=[("ab", b"c")]) != _tag(files=[("a", b"bc")])


def test_node_image_tag_of_this_checkout_is_stable_and_fast() -> None:
    import time

    started = time.monotonic()
    tag = images.node_image_tag()
    assert time.monotonic() - started < 0.2
    assert tag == images.node_image_tag()
    assert tag.startswith("localsvc/node:")


def test_package_files_skip_bytecode(tmp_path: Path) -> None:
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.py").write_text("")
    (tmp_path / "sub" / "m.pyc").write_bytes(b"\0")
    (tmp_path / "a.py").write_text("")
    rel = [p.relative_to(tmp_path).as_posix() for p in images.package_files(tmp_path)]
    assert rel == ["a.py", "sub/m.py"]


def test_parse_requirements_drops_extras_but_keeps_wanted_ones() -> None:
    assert images.parse_requirements(REQUIRES, ["uvloop"]) == [
        "docker<8,>=7.0",
        "aiohttp<4,>=3.9",
        "PyYAML<7,>=6.0",
        "uvloop<1,>=0.19",
        'tomli>=2; python_version < "3.11"',
    ]


def test_parse_requirements_adds_missing_extra_bare() -> None:
    assert images.parse_requirements(["docker>=7"], ["uvloop"]) == ["docker>=7", "uvloop"]
    assert images.parse_requirements(["docker>=7", "docker>=7"]) == ["docker>=7"]


def test_parse_requirements_names_are_canonical() -> None:
    lines = ['Foo_Bar.baz>=1; extra == "fast"']
    assert images.parse_requirements(lines, ["foo-bar-baz"]) == ["Foo_Bar.baz>=1"]


def test_pyproject_requires(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["a>=1", "b"]\n'
        '[project.optional-dependencies]\nfast = ["uvloop<1"]\ntest = ["pytest"]\n'
    )
    lines = images.pyproject_requires(pyproject)
    assert images.parse_requirements(lines, ["uvloop"]) == ["a>=1", "b", "uvloop<1"]


def test_this_checkout_requirements_include_uvloop_and_not_test_extras() -> None:
    reqs = images.node_requirements()
    names = {node_image._canonical(node_image._requirement_name(r)) for r in reqs}
    assert {"docker", "aiohttp", "dnslib", "watchfiles", "pyyaml", "uvloop"} <= names
    assert "pytest" not in names


def test_base_tag_depends_on_every_input() -> None:
    base = images.BaseSpec()
    assert base.tag() == images.BaseSpec().tag()
    assert base.tag().startswith("localsvc/debian-python:bookworm-")
    others = [
        images.BaseSpec(mirror="http://mirror.example/debian"),
        images.BaseSpec(include=("python3",)),
        images.BaseSpec(variant="buildd"),
        images.BaseSpec(suite="trixie"),
    ]
    assert len({base.tag(), *(o.tag() for o in others)}) == 5


def test_base_spec_reads_mirror_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSVC_DEBIAN_MIRROR", "http://m.example/debian")
    spec = images.BaseSpec.from_env()
    assert spec.mirror == "http://m.example/debian"
    args = spec.debootstrap_args(Path("/r"))
    assert args[0] == "debootstrap" and args[-3:] == ["bookworm", "/r", "http://m.example/debian"]
    assert "--variant=minbase" in args
    assert "--include=python3,python3-venv,iproute2,nftables,procps,ca-certificates" in args


@pytest.mark.parametrize(
    ("machine", "arch"),
    [("x86_64", "x86_64"), ("arm64", "aarch64"), ("aarch64", "aarch64"), ("AMD64", "x86_64")],
)
def test_wheel_platforms(machine: str, arch: str) -> None:
    assert images.wheel_platforms(machine) == [
        f"manylinux2014_{arch}",
        f"manylinux_2_17_{arch}",
        f"manylinux_2_28_{arch}",
    ]


def test_pip_download_args_and_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = images.pip_download_args(["docker>=7"], tmp_path, "x86_64")
    assert args[1:4] == ["-m", "pip", "download"]
    assert "--only-binary=:all:" in args
    assert args[args.index("--python-version") + 1] == "3.11"
    assert args[args.index("--dest") + 1] == str(tmp_path)
    assert args[-1] == "docker>=7"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one = images.wheel_cache_dir(["docker>=7"], "x86_64")
    assert one.parent == tmp_path / "localsvc" / "wheels"
    assert one == images.wheel_cache_dir(["docker>=7"], "x86_64")
    assert one != images.wheel_cache_dir(["docker>=7"], "aarch64")
    assert one != images.wheel_cache_dir(["docker>=8"], "x86_64")


def test_dockerfile_is_found_for_a_checkout() -> None:
    path = images.dockerfile_path()
    assert path.name == "Dockerfile"
    text = path.read_text()
    assert "ARG BASE=" in text and 'ENTRYPOINT ["python3", "-m", "localsvc"]' in text


def test_dockerfile_missing_is_an_image_error(tmp_path: Path) -> None:
    pkg = tmp_path / "localsvc"
    pkg.mkdir()
    with pytest.raises(ImageError, match="Dockerfile"):
        images.dockerfile_path(pkg)


def test_dockerfile_prefers_packaged_copy(tmp_path: Path) -> None:
    pkg = tmp_path / "localsvc"
    (pkg / "_data").mkdir(parents=True)
    (pkg / "_data" / "Dockerfile").write_text("packaged")
    (tmp_path / "Dockerfile").write_text("checkout")
    assert images.dockerfile_path(pkg).read_text() == "packaged"


def test_legacy_stream_shows_steps_on_a_terminal_and_keeps_the_whole_log() -> None:
    from localsvc.runtime import buildkit

    seen: list[str] = []
    stream: list[dict[str, Any]] = [
        {"stream": "Step 1/2 : FROM   x\n"},
        {"stream": " ---> abc\n"},
        {"stream": "noise 1\nnoise 2\n"},
        {"stream": "STEP 2/2: RUN make\n"},  # Buildah (Podman) spells it in capitals
        {"errorDetail": {"message": "boom"}, "error": "boom"},
        {"stream": "never read\n"},
    ]
    display = buildkit.BuildDisplay(seen.append, "tty")
    steps = image_build._legacy_steps(iter(stream), seen.append, "tty")
    result = buildkit.follow_stream(steps, display)
    assert result.error == "boom"
    assert seen == ["Step 1/2 : FROM x", "STEP 2/2: RUN make"]
    assert display.log == ["Step 1/2 : FROM   x", " ---> abc", "noise 1", "noise 2",
                           "STEP 2/2: RUN make"]


DOCKER_20 = {"ApiVersion": "1.41", "Os": "linux", "Components": [{"Name": "Engine"}]}


@pytest.mark.parametrize(("value", "builder", "why"), [
    ("", image_build.BUILDKIT, "engine API"), ("buildkit", image_build.BUILDKIT, "engine API"),
    ("legacy", image_build.LEGACY, "LOCALSVC_BUILDER=legacy"),
    (" Legacy ", image_build.LEGACY, "LOCALSVC_BUILDER=legacy"),
])
def test_choose_builder_honours_localsvc_builder(value: str, builder: str, why: str) -> None:
    assert image_build.choose_builder({"LOCALSVC_BUILDER": value}, DOCKER_20) == (builder, why)


@pytest.mark.parametrize(("engine", "builder", "why"), [
    ({"ApiVersion": "1.39", "Os": "linux"}, image_build.BUILDKIT, "engine API"),
    ({"ApiVersion": "1.38", "Os": "linux"}, image_build.LEGACY,
     "engine API 1.38 predates BuildKit"),
    ({"ApiVersion": "1.41", "Os": "windows"}, image_build.LEGACY,
     "Windows engines have no BuildKit"),
    ({"ApiVersion": "1.41", "Components": [{"Name": "Podman Engine"}]}, image_build.BUILDAH,
     "the engine is Podman"),
    ({}, image_build.BUILDKIT, "engine API"),  # unknown: try, the refusal fallback covers it
])
def test_choose_builder_from_the_engine_version(engine: dict[str, Any], builder: str,
                                                why: str) -> None:
    assert image_build.choose_builder({}, engine) == (builder, why)


def test_unknown_builder_is_an_error_that_names_the_choices() -> None:
    with pytest.raises(ImageError, match="LOCALSVC_BUILDER='kaniko'.*buildkit.*legacy"):
        image_build.choose_builder({"LOCALSVC_BUILDER": "kaniko"}, DOCKER_20)


def test_build_hint_for_syntax_directive_without_registry() -> None:
    error = ("failed to solve with frontend dockerfile.v0: failed to solve with frontend "
             "gateway.v0: failed to do request: Head https://registry-1.docker.io/v2/docker/"
             "dockerfile/manifests/1: no such host")
    hint = image_build.build_hint("# syntax=docker/dockerfile:1\nFROM x\n", error,
                                  image_build.BUILDKIT)
    assert "`# syntax=`" in hint and "registry" in hint
    assert image_build.build_hint("FROM x\n", error, image_build.BUILDKIT) == ""


def test_build_hint_for_heredocs_on_the_builtin_frontend() -> None:
    error = ("failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
             "dockerfile parse error line 3: unknown instruction: ECHO")
    text = "FROM x\nRUN <<EOF\necho hi\nEOF\n"
    assert "heredocs" in image_build.build_hint(text, error, image_build.BUILDKIT)
    assert image_build.build_hint("FROM x\nECHO hi\n", error, image_build.BUILDKIT) == ""


def test_build_hint_for_mounts_on_the_legacy_builder() -> None:
    text = "FROM x\nRUN --mount=type=cache,target=/c true\n"
    error = "the --mount option requires BuildKit"
    assert "legacy builder has no RUN --mount" in image_build.build_hint(
        text, error, image_build.LEGACY)
    assert image_build.build_hint(text, error, image_build.BUILDKIT) == ""


def _context(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_context_hash_ignores_edits_to_dockerignored_files(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"Dockerfile": "FROM x", ".dockerignore": "*.log\nnotes/\n",
                              "app.py": "v1", "debug.log": "a", "notes/n.md": "a"})
    before = images.context_hash(ctx)
    (ctx / "debug.log").write_text("b")
    (ctx / "notes" / "n.md").write_text("b")
    (ctx / "notes" / "new.md").write_text("c")
    assert images.context_hash(ctx) == before
    (ctx / "app.py").write_text("v2")
    assert images.context_hash(ctx) != before


def test_context_hash_sees_sent_files_modes_and_the_ignore_file(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"Dockerfile": "FROM x", "run.sh": "echo"})
    before = images.context_hash(ctx)
    (ctx / "run.sh").chmod(0o755)
    executable = images.context_hash(ctx)
    assert executable != before
    (ctx / ".dockerignore").write_text("nothing-matches\n")
    assert images.context_hash(ctx) != executable  # .dockerignore itself is always sent
    assert images.context_hash(ctx, "Dockerfile") != images.context_hash(ctx, "Other")


def test_context_tar_holds_what_docker_build_would_send(tmp_path: Path) -> None:
    import tarfile

    ctx = _context(tmp_path, {"Dockerfile": "FROM x", ".dockerignore": "secret\n*.tmp\n",
                              "src/a.py": "a", "secret/key": "k", "x.tmp": "t"})
    with image_build.context_tar(ctx) as handle, tarfile.open(fileobj=handle) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == [".dockerignore", "Dockerfile", "src", "src/a.py"]
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}


def test_cannot_debootstrap_without_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ImageError, match="provision-docker"):
        base_image._check_can_debootstrap()


def test_cannot_debootstrap_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(ImageError, match="root"):
        base_image._check_can_debootstrap()
