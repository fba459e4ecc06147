"""Which `localsvc.yaml` a command honours, and which environment a command targets.

A project file decides what gets built and applied, so it is only looked for where the user's
own project can be, never in a shared directory above it (a `/tmp/localsvc.yaml` planted by
someone else must not apply). The walk goes up from the current directory and stops at the first
of:

- a directory holding `.git` (the repository root: looked in, then the walk stops);
- the home directory (looked in, then the walk stops).

When neither is met before `/` (the directory is outside the home directory and outside any
repository, e.g. a CI job in /tmp/build), only the current directory itself is looked in. A file
owned by another user (not root) is ignored wherever it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from localsvc.model.projectfile import load_project
from localsvc.model.projectmodel import default_environment_name, normal_path

PROJECT_FILE = "localsvc.yaml"
ENV_VARIABLE = "LOCALSVC_ENV"


def search_directories(start: Path, home: Path | None = None) -> list[Path]:
    """The directories looked in for a project file, nearest first (see the module's rule)."""
    here = normal_path(start)
    top = normal_path(Path.home() if home is None else home)
    chain = [here, *here.parents]
    for index, directory in enumerate(chain):
        if directory == top or os.path.lexists(directory / ".git"):
            return chain[: index + 1]
    return chain[:1]


def find_project(start: Path, home: Path | None = None) -> Path | None:
    """The `localsvc.yaml` in `start` or the nearest of the directories the rule allows, or None."""
    for directory in search_directories(start, home):
        candidate = directory / PROJECT_FILE
        if candidate.is_file() and _owned_by_us(candidate):
            return candidate
    return None


def target_environment(
    explicit: str | None,
    cwd: Path,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> str:
    """The environment a command run in `cwd` targets, first found of:

    `explicit` (the --env flag), `$LOCALSVC_ENV`, the project file's `environment:`, the default
    name of the project file's directory, the default name of `cwd` (`<dirname>-<6 hex>`, see
    default_environment_name). Raises ManifestError when the project file found is invalid.
    """
    if explicit:
        return explicit
    from_variable = (os.environ if environ is None else environ).get(ENV_VARIABLE)
    if from_variable:
        return from_variable
    found = find_project(cwd, home)
    if found is None:
        return default_environment_name(cwd)
    # Only the name is used here: the host address is not applied, so it is not refused either.
    return load_project(found, allow_public_host_address=True).environment_name


def _owned_by_us(file: Path) -> bool:
    try:
        owner = file.stat().st_uid
    except OSError:
        return False
    return owner in (os.geteuid(), 0)
