"""runtime/tarballs.py: the one tar writer for put_archive (files, directories, symlinks)."""

from __future__ import annotations

import io
import tarfile

from localsvc.runtime.tarballs import TarEntry, tar_of


def test_files_directories_and_links_keep_their_order_modes_and_content() -> None:
    data = tar_of([TarEntry("d", 0o755, None), TarEntry("d/f", 0o600, b"secret"),
                   TarEntry("..data", 0o777, link="d"), TarEntry("empty", 0o644)])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [(m.name, m.mode, m.type) for m in members] == [
            ("d", 0o755, tarfile.DIRTYPE), ("d/f", 0o600, tarfile.REGTYPE),
            ("..data", 0o777, tarfile.SYMTYPE), ("empty", 0o644, tarfile.REGTYPE)]
        assert members[2].linkname == "d"
        assert tar.extractfile("d/f").read() == b"secret"  # type: ignore[union-attr]
        assert members[3].size == 0 and members[0].mtime > 0
