"""Tar archives for Docker's put_archive: the one way localsvc writes files into containers
(volume files, subPath directories, the ingress controller's configuration)."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TarEntry:
    path: str
    mode: int
    content: bytes | None = b""  # None: a directory
    link: str = ""  # a symbolic link to this target (content ignored)


def tar_of(entries: Iterable[TarEntry]) -> bytes:
    """A tar of `entries`, in their order, stamped with the current time."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mode, info.mtime = entry.mode, now
            if entry.link:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            elif entry.content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(entry.content)
                tar.addfile(info, io.BytesIO(entry.content))
    return buffer.getvalue()


def read_archive(api: Any, container_id: str, path: str) -> list[TarEntry]:
    """`path` of a container (a file, a link or a whole directory) as Docker's get_archive gives
    it: its entries, named as in the archive (the first is `path`'s base name). Raises what
    get_archive raises (docker.errors.NotFound when the path is missing) and tarfile.TarError."""
    stream, _ = api.get_archive(container_id, path)
    entries = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        for member in tar.getmembers():
            mode = member.mode & 0o7777
            if member.issym():
                entries.append(TarEntry(member.name, mode, b"", member.linkname))
            elif member.isfile():
                extracted = tar.extractfile(member)
                content = extracted.read() if extracted is not None else b""
                entries.append(TarEntry(member.name, mode, content))
            else:
                entries.append(TarEntry(member.name, mode, None))
    return entries


__all__ = ["TarEntry", "read_archive", "tar_of"]
