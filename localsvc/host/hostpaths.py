"""hostPath volumes checked on this machine before a manifest is sent, when the engine is local
(it then resolves bind sources on this filesystem): a missing source directory is a validation
error naming file, line and field, instead of a pod that waits. With a remote engine the node
checks the paths where they are, and the pod says what failed (model/hostpath.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from localsvc.errors import ManifestError, Problem
from localsvc.model import hostpath as hp
from localsvc.model.load import Manifest
from localsvc.runtime.engine import engine_is_remote


def local_kind(path: str) -> str:
    """What `path` is here, following symlinks as the kubelet's check does."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return hp.MISSING
    if stat.S_ISDIR(mode):
        return hp.DIRECTORY
    if stat.S_ISREG(mode):
        return hp.FILE
    if stat.S_ISSOCK(mode):
        return hp.SOCKET
    if stat.S_ISCHR(mode):
        return hp.CHAR_DEVICE
    if stat.S_ISBLK(mode):
        return hp.BLOCK_DEVICE
    return hp.OTHER


def host_path_problems(manifests: Sequence[Manifest]) -> list[Problem]:
    if engine_is_remote():  # its paths are on another machine: the node checks them there
        return []
    problems = []
    for m in manifests:
        for field, path, path_type in hp.host_path_volumes(m.kind, m.obj):
            kind = local_kind(path)
            decision = hp.decide(path_type, path, kind,
                                 os.path.isdir(os.path.dirname(path) or "/"))
            if decision.error:
                problems.append(Problem(
                    m.file, m.line_of(field), m.kind, m.name, field,
                    f"{decision.error} (type {path_type}, checked on this machine, whose files "
                    f"the local Docker engine mounts): {hp.fix_for(path_type, kind)}"))
    return problems


def host_path_warnings(manifests: Sequence[Manifest]) -> list[str]:
    """With a remote engine, where hostPaths are looked up (once per apply, not per volume)."""
    if not engine_is_remote():
        return []
    for m in manifests:
        for field, path, _ in hp.host_path_volumes(m.kind, m.obj):
            return [f"{m.file}:{m.line_of(field)}: {m.kind}/{m.name}: {field}: {path} is "
                    f"looked up on the Docker engine's host, and {hp.REMOTE_ENGINE}"]
    return []


def checked(manifests: Sequence[Manifest]) -> list[str]:
    """Before an apply: raise ManifestError for hostPaths that fail here (local engine); the
    warnings to show (remote engine)."""
    problems = host_path_problems(manifests)
    if problems:
        raise ManifestError(problems)
    return host_path_warnings(manifests)


__all__ = ["checked", "host_path_problems", "host_path_warnings", "local_kind"]
