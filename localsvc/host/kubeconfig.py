"""The user's kubeconfig file: which one, reading it, and writing an environment's context into
it (`localsvc kubeconfig --write`) or out of it again (`down`).

The file is the one kubectl itself writes new entries to (client-go's
PathOptions.GetDefaultFilename): with $KUBECONFIG unset, ~/.kube/config; with one path in it,
that path; with several, the first that exists, else the last. The merge rules are pure, in
model/kubeconfig.py.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from localsvc.errors import LocalsvcError
from localsvc.model import kubeconfig as model
from localsvc.runtime.pki import write_atomically

FILE_MODE = 0o600  # a kubeconfig holds bearer tokens
KUBE_DIRECTORY_MODE = 0o700
# kubectl holds `<file>.lock` only while it rewrites the file: a few milliseconds.
LOCK_TIMEOUT = 5.0


class KubeconfigError(LocalsvcError):
    """A kubeconfig file that cannot be read, parsed or written."""


def kubeconfig_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files kubectl reads, in order: $KUBECONFIG's list (empty entries and repeats
    dropped), or ~/.kube/config."""
    env = os.environ if environ is None else environ
    listed: list[Path] = []
    for entry in env.get("KUBECONFIG", "").split(os.pathsep):
        if entry and Path(entry) not in listed:
            listed.append(Path(entry))
    if listed:
        return listed
    home = env.get("HOME") or str(Path.home())
    return [Path(home) / ".kube" / "config"]


def kubeconfig_path(environ: Mapping[str, str] | None = None) -> Path:
    """The file kubectl writes new entries to (see the module's docstring)."""
    paths = kubeconfig_paths(environ)
    if len(paths) == 1:
        return paths[0]
    for path in paths:
        if path.exists():
            return path
    return paths[-1]


def read_kubeconfig(path: Path) -> model.Config:
    """The config in `path`; a missing or empty file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return model.empty_config()
    except (OSError, UnicodeDecodeError) as err:
        raise KubeconfigError(f"{path}: cannot read the kubeconfig: {err}") from err
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise KubeconfigError(
            f"{where}: not a kubeconfig, the YAML does not parse ({problem}); fix or move the "
            "file, or point KUBECONFIG at another one") from err
    if document is None:
        return model.empty_config()
    problems = model.shape_problems(document)
    if problems:
        lines = "\n".join(f"  {path}: {problem}" for problem in problems)
        raise KubeconfigError(
            f"{path} is not a kubeconfig localsvc can add a context to:\n{lines}\n"
            "fix the file, or point KUBECONFIG at another one")
    config: model.Config = document
    return config


def write_kubeconfig(path: Path, config: model.Config) -> None:
    """Write `config` to `path` atomically, mode 0600. A symlinked kubeconfig stays a symlink:
    its target is replaced. A missing directory is created (mode 0700, like ~/.kube)."""
    target = path.resolve()
    try:
        target.parent.mkdir(mode=KUBE_DIRECTORY_MODE, parents=True, exist_ok=True)
        write_atomically(target, model.dump(config).encode("utf-8"), FILE_MODE)
    except OSError as err:
        raise KubeconfigError(f"{path}: cannot write the kubeconfig: {err}") from err


def write_context(config: model.Config, set_current: bool = True,
                  environ: Mapping[str, str] | None = None,
                  lock_timeout: float = LOCK_TIMEOUT) -> Path:
    """Merge `config` (model.kubeconfig_for's) into the file kubectl writes to, and return that
    file. Entries of the same names in the other files of $KUBECONFIG are removed: kubectl takes
    the first definition of a name, so a stale one there would hide the new one. Each file is
    rewritten under kubectl's own lock (`<file>.lock`), so neither loses the other's change."""
    path = kubeconfig_path(environ)
    names = {entry["name"] for section, _ in model.SECTIONS for entry in config.get(section) or []}
    for other in kubeconfig_paths(environ):
        if other != path:
            for name in sorted(names):
                _remove_from(other, name, lock_timeout)
    with locked(path, lock_timeout):
        write_kubeconfig(path, model.merge(read_kubeconfig(path), config, set_current))
    return path


def remove_context(name: str, environ: Mapping[str, str] | None = None,
                   lock_timeout: float = LOCK_TIMEOUT) -> bool:
    """Drop the cluster, user and context called `name` from every file kubectl reads; whether
    any file changed. Files that do not exist are left alone (never created)."""
    changed = False
    for path in kubeconfig_paths(environ):
        changed = _remove_from(path, name, lock_timeout) or changed
    return changed


def _remove_from(path: Path, name: str, lock_timeout: float) -> bool:
    if not path.exists():
        return False
    with locked(path, lock_timeout):
        remaining, changed = model.remove(read_kubeconfig(path), name)
        if changed:
            write_kubeconfig(path, remaining)
    return changed


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold `<path>.lock` the way client-go does (created with O_EXCL, removed after the write),
    waiting up to `timeout` seconds for a kubectl that holds it."""
    lock = Path(f"{path}.lock")
    deadline = time.monotonic() + timeout
    lock.parent.mkdir(mode=KUBE_DIRECTORY_MODE, parents=True, exist_ok=True)
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            break
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise KubeconfigError(
                    f"{path}: still locked by {lock} after {timeout:g} s (kubectl holds that "
                    f"file while it writes the kubeconfig); if no kubectl is running, remove "
                    f"{lock} and try again") from None
            time.sleep(0.05)
        except OSError as err:
            raise KubeconfigError(f"{path}: cannot create the lock {lock}: {err}") from err
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
