""".dockerignore semantics (pure matcher, and the walk of a real temp directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsvc.runtime import dockerignore
from localsvc.runtime.dockerignore import IgnoreMatcher, clean_pattern, context_files, parse


def _ignored(text: str, path: str, dockerfile: str = "Dockerfile") -> bool:
    return IgnoreMatcher.from_text(text, dockerfile).ignored(path)


def test_parse_skips_comments_blank_lines_and_bom() -> None:
    patterns = parse("\ufeff# comment\n\n  *.log  \n!keep.log\n#x\n ! spaced\n")
    assert [(p.text, p.exclusion) for p in patterns] == [
        ("*.log", False), ("keep.log", True), ("spaced", True)]


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("/abs/path", "abs/path"), ("./a//b/", "a/b"), ("a/../b", "b"), ("//x", "x"), ("/", "/"),
])
def test_patterns_are_cleaned_like_paths(raw: str, cleaned: str) -> None:
    assert clean_pattern(raw) == cleaned


@pytest.mark.parametrize(("patterns", "path", "ignored"), [
    ("*.log", "app.log", True),
    ("*.log", "sub/app.log", False),            # `*` stays within one component
    ("*/*.log", "sub/app.log", True),
    ("**/*.log", "a/b/c/app.log", True),
    ("**/*.log", "app.log", True),              # `**/` also matches zero directories
    ("a/**/z", "a/z", True),
    ("a/**/z", "a/b/c/z", True),
    ("a/**", "a/b/c", True),
    ("node_modules", "node_modules/x/y.js", True),  # a directory takes everything under it
    ("node_modules", "src/node_modules/x.js", False),  # anchored at the context root
    ("/build", "build/out.o", True),           # leading `/` means the same as none
    ("?.txt", "a.txt", True),
    ("?.txt", "ab.txt", False),
    ("[ab].txt", "b.txt", True),
    ("[!ab].txt", "c.txt", True),
    ("[!ab].txt", "a.txt", False),
    ("file.txt", "fileXtxt", False),           # `.` is literal
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("", "anything", False),
])
def test_pattern_semantics(patterns: str, path: str, ignored: bool) -> None:
    assert _ignored(patterns, path) is ignored


def test_exceptions_re_include_and_the_last_match_wins() -> None:
    text = "*.md\n!README.md\n"
    assert _ignored(text, "CHANGES.md")
    assert not _ignored(text, "README.md")
    # A later pattern excludes the exception again.
    assert _ignored(text + "README*\n", "README.md")


def test_exception_inside_an_ignored_directory() -> None:
    text = "docs\n!docs/keep.md\n"
    assert _ignored(text, "docs/other.md")
    assert not _ignored(text, "docs/keep.md")
    assert IgnoreMatcher.from_text(text).may_include_under("docs")
    assert not IgnoreMatcher.from_text(text).may_include_under("other")
    assert not IgnoreMatcher.from_text("docs\n").may_include_under("docs")


def test_the_walk_skips_ignored_directories_no_exception_names(tmp_path: Path) -> None:
    # As the docker CLI: `!**/keep` names no directory, so an ignored directory is not entered.
    _tree(tmp_path, {"Dockerfile": "", ".dockerignore": "cache\n!**/keep\n!src/keep\n",
                     "cache/keep": "", "src/keep": "", "src/x": ""})
    assert context_files(tmp_path) == [".dockerignore", "Dockerfile", "src/keep", "src/x"]


def test_dockerfile_and_dockerignore_are_always_sent() -> None:
    assert not _ignored("*\n", "Dockerfile")
    assert not _ignored("*\n", ".dockerignore")
    assert not _ignored("docker\n", "docker/app.Dockerfile", dockerfile="docker/app.Dockerfile")
    assert IgnoreMatcher.from_text("docker\n", "docker/app.Dockerfile").may_include_under("docker")
    assert _ignored("*\n", "main.py")


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_context_files_walk_honours_the_ignore_file(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "Dockerfile": "FROM x", ".dockerignore": "*\n!src\nsrc/**/*.pyc\n!keep.txt\n",
        "src/app.py": "", "src/pkg/mod.pyc": "", "src/pkg/mod.py": "", "notes.md": "",
        "keep.txt": "", "tmp/cache/a": "",
    })
    assert context_files(tmp_path) == [
        ".dockerignore", "Dockerfile", "keep.txt", "src/app.py", "src/pkg/mod.py"]


def test_context_files_without_ignore_file_sends_everything(tmp_path: Path) -> None:
    _tree(tmp_path, {"Dockerfile": "", "a/b.txt": ""})
    (tmp_path / "link").symlink_to("a")
    assert context_files(tmp_path) == ["Dockerfile", "a/b.txt", "link"]
    assert dockerignore.load_matcher(tmp_path).patterns == []


def test_devloop_knows_which_changed_files_a_build_sends(tmp_path: Path) -> None:
    from localsvc.host.devloop.builds import sent_to_build
    from localsvc.model.project import ImageBuild

    _tree(tmp_path, {"Dockerfile": "", ".dockerignore": "*.log\n", "app.py": "", "x.log": ""})
    image = ImageBuild(name="app:dev", context=tmp_path, dockerfile="Dockerfile", args={},
                       target=None, sync=())
    assert sent_to_build(image, tmp_path / "app.py")
    assert sent_to_build(image, tmp_path / ".dockerignore")
    assert not sent_to_build(image, tmp_path / "x.log")
    assert not sent_to_build(image, tmp_path.parent / "elsewhere.py")


def test_a_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    _tree(tmp_path, {"Dockerfile": "", "app.Dockerfile": "", ".dockerignore": "a.txt\n",
                     "app.Dockerfile.dockerignore": "b.txt\n", "a.txt": "", "b.txt": ""})
    assert "a.txt" not in context_files(tmp_path) and "b.txt" in context_files(tmp_path)
    specific = context_files(tmp_path, "app.Dockerfile")
    assert "a.txt" in specific and "b.txt" not in specific
    chosen = dockerignore.ignore_file(tmp_path, "app.Dockerfile")
    assert chosen.name == "app.Dockerfile.dockerignore"
