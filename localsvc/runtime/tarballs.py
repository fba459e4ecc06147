"""Tar archives for Docker's put_archive: the one way localsvc writes files into containers
(volume files, subPath directories, the ingress controller's configuration)."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass


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


__all__ = ["TarEntry", "tar_of"]
