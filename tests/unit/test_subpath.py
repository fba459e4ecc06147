"""Tests of localsvc.model.subpath: following a subPath through a volume's symlinks as the
kubelet does, refusing what leaves the volume, and what to create when it is missing."""

from __future__ import annotations

import pytest

from localsvc.model.subpath import MAX_LINKS, Entry, Resolved, SubPathError, resolve

# A configMap volume as the atomic writer lays it out, plus a few hand-made paths.
TREE = {
    "..2026_12_07_12_00_00.1": Entry("directory"),
    "..2026_12_07_12_00_00.1/app.conf": Entry("file"),
    "..2026_12_07_12_00_00.1/conf": Entry("directory"),
    "..2026_12_07_12_00_00.1/conf/a": Entry("file"),
    "..data": Entry("link", "..2026_12_07_12_00_00.1"),
    "app.conf": Entry("link", "..data/app.conf"),
    "conf": Entry("link", "..data/conf"),
    "logs": Entry("directory"),
    "escape": Entry("link", "/etc"),
    "up": Entry("link", "../outside"),
    "inside": Entry("link", "/var/lib/docker/volumes/v/_data/logs"),
    "sideways": Entry("link", "logs/../app.conf"),
    "loop": Entry("link", "loop"),
    "file": Entry("file"),
}
ROOT = "/var/lib/docker/volumes/v/_data"


def lstat(path: str) -> Entry:
    return TREE.get(path, Entry("missing"))


@pytest.mark.parametrize(("sub_path", "expected"), [
    ("app.conf", Resolved("..2026_12_07_12_00_00.1/app.conf", "file", (),
                          "..2026_12_07_12_00_00.1")),
    ("conf/a", Resolved("..2026_12_07_12_00_00.1/conf/a", "file", (),
                        "..2026_12_07_12_00_00.1/conf")),
    ("logs", Resolved("logs", "directory", (), "logs")),
    ("./logs/", Resolved("logs", "directory", (), "logs")),
    ("logs/web-0/x", Resolved("logs/web-0/x", "missing", ("web-0", "x"), "logs")),
    ("new", Resolved("new", "missing", ("new",), "")),
    ("inside", Resolved("logs", "directory", (), "logs")),  # absolute, into the volume itself
    ("sideways", Resolved("..2026_12_07_12_00_00.1/app.conf", "file", (),
                          "..2026_12_07_12_00_00.1")),
])
def test_resolve(sub_path: str, expected: Resolved) -> None:
    assert resolve(sub_path, lstat, ROOT) == expected


@pytest.mark.parametrize(("sub_path", "message"), [
    ("escape", "leads outside the volume (symlink escape -> /etc)"),
    ("escape/passwd", "leads outside the volume"),
    ("up", "leads outside the volume"),
    ("loop", "too many levels of symbolic links"),
    ("file/below", "file is a file, not a directory"),
])
def test_refused(sub_path: str, message: str) -> None:
    with pytest.raises(SubPathError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(sub_path, lstat, ROOT)


def test_absolute_link_refused_without_a_known_root() -> None:
    with pytest.raises(SubPathError):
        resolve("inside", lstat, "")


def test_link_budget_is_linuxs() -> None:
    chain = {f"l{i}": Entry("link", f"l{i + 1}") for i in range(MAX_LINKS)}
    chain[f"l{MAX_LINKS}"] = Entry("directory")
    assert resolve("l0", lambda p: chain.get(p, Entry("missing"))).path == f"l{MAX_LINKS}"
    chain[f"l{MAX_LINKS}"] = Entry("link", "end")
    with pytest.raises(SubPathError, match="too many levels"):
        resolve("l0", lambda p: chain.get(p, Entry("missing")))
