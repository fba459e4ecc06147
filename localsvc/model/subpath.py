"""Where a volumeMount's `subPath` leads inside its volume, as the kubelet resolves it (pure).

The kubelet evaluates every symlink of `<volume>/<subPath>` on the host and refuses a result
outside the volume (`subpath ... not within volume path ...`, the fix of CVE-2017-1002101); a
missing path is created as directories with the volume root's mode (SafeMakeDir). Here the
runtime supplies `lstat` (Docker's stat of a path of the volume, bound into the pod's infra
container, plus a symlink's own target) and binds the resolved path, which then has no symlink
left: the bind is of what the path pointed at when the container started. That is also why a
subPath mount of a configMap key keeps its content when the ConfigMap changes: it binds the
file in the timestamped directory, not the `..data` link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_LINKS = 40  # Linux's limit on symlinks followed in one lookup (ELOOP)


@dataclass(frozen=True)
class Entry:
    """One path of the volume, as observed: kind "directory", "file", "link", "missing" or
    another kind (hostpath's names); `link` is a symlink's target as written."""

    kind: str
    link: str = ""


@dataclass(frozen=True)
class Resolved:
    path: str  # relative to the volume root, no symlink in it ("" = the root)
    kind: str  # of the final path ("missing" when it is to be created)
    create: tuple[str, ...] = ()  # directories to make below `existing`, outermost first
    existing: str = ""  # the deepest existing directory on the way (relative)


class SubPathError(ValueError):
    """The subPath cannot be used (it leads out of the volume, or through a file)."""


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve(sub_path: str, lstat: Callable[[str], Entry], host_root: str = "") -> Resolved:
    """Follow `sub_path` through the volume. `host_root`: where the volume is on the engine's
    host, so that an absolute symlink into the volume itself resolves (any other absolute
    target is outside the volume)."""
    pending = _parts(sub_path)
    done: list[str] = []
    kind = "directory"  # of the volume root, and then of the last part followed
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not done:
                raise SubPathError(f"subPath {sub_path!r} leads outside the volume")
            done.pop()
            kind = "directory"
            continue
        entry = lstat("/".join([*done, part]))
        if entry.kind == "link":
            links += 1
            if links > MAX_LINKS:
                raise SubPathError(f"subPath {sub_path!r}: too many levels of symbolic links")
            target = entry.link
            if target.startswith("/"):
                root = host_root.rstrip("/")
                if not root or not (target == root or target.startswith(root + "/")):
                    raise SubPathError(f"subPath {sub_path!r} leads outside the volume "
                                       f"(symlink {'/'.join([*done, part])} -> {target})")
                done, kind = [], "directory"
                target = target[len(root):]
            pending = _parts(target) + pending
            continue
        if entry.kind == "missing":
            rest = [part, *pending]
            if ".." in rest:
                raise SubPathError(f"subPath {sub_path!r}: {'/'.join([*done, part])} does "
                                   "not exist")
            return Resolved("/".join([*done, *rest]), "missing", tuple(rest), "/".join(done))
        if pending and entry.kind != "directory":
            raise SubPathError(f"subPath {sub_path!r}: {'/'.join([*done, part])} is a "
                               f"{entry.kind}, not a directory")
        done.append(part)
        kind = entry.kind
    path = "/".join(done)
    return Resolved(path, kind, (), path if kind == "directory" else "/".join(done[:-1]))


__all__ = ["Entry", "MAX_LINKS", "Resolved", "SubPathError", "resolve"]
