"""The one error family of localsvc.

Every error a user can meet is a LocalsvcError whose message names what is wrong and how to fix
it. Third-party errors are re-raised `from` the original. Only the CLI turns these into exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LocalsvcError(Exception):
    """Base class: a problem the user can act on. str(err) is the whole message."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a manifest, printed as `FILE:LINE: KIND/NAME: field.path: message`."""

    file: str
    line: int | None
    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where]
        if self.kind or self.name:
            parts.append(f"{self.kind or '?'}/{self.name or '?'}")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class ManifestError(LocalsvcError):
    """Manifests that cannot be applied; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the manifests; nothing was changed:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class EngineError(LocalsvcError):
    """The Docker engine is missing, unreachable or refused an operation."""


class ImageError(LocalsvcError):
    """An image could not be found, pulled or built."""


class EnvironmentNotFound(LocalsvcError):
    """The named environment does not exist (or its node is gone)."""


class NotFound(LocalsvcError):
    """An object (pod, service, ...) does not exist in the environment."""


class NodeError(LocalsvcError):
    """The node's API answered with an error or could not be reached."""


class Timeout(LocalsvcError):
    """Waiting for a condition took longer than allowed."""
