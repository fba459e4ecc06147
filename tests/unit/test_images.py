"""Pure parts of localsvc.runtime.images: tags, requirement parsing, pip arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.errors import ImageError
from localsvc.runtime import images

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
    names = {images._canonical(images._requirement_name(r)) for r in reqs}
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


def test_follow_build_reports_steps_and_errors() -> None:
    from collections import deque

    seen: list[str] = []
    log: deque[str] = deque(maxlen=3)
    stream: list[dict[str, Any]] = [
        {"stream": "Step 1/2 : FROM   x\n"},
        {"stream": " ---> abc\n"},
        {"stream": "noise 1\nnoise 2\n"},
        {"errorDetail": {"message": "boom"}, "error": "boom"},
        {"stream": "never read\n"},
    ]
    assert images._follow_build(iter(stream), log, seen.append) == "boom"
    assert seen == ["Step 1/2 : FROM x"]
    assert list(log) == ["noise 1", "noise 2", "boom"]


def test_cannot_debootstrap_without_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ImageError, match="provision-docker"):
        images._check_can_debootstrap()


def test_cannot_debootstrap_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(ImageError, match="root"):
        images._check_can_debootstrap()
