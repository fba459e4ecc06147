"""localsvc: Kubernetes Services on one Docker engine, no cluster.

`from localsvc import Environment` works; the API (and Docker's client) is imported only when
asked for, so `import localsvc` stays cheap for the CLI and its completion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localsvc.version import __version__

__all__ = ["Environment", "__version__"]

if TYPE_CHECKING:
    from localsvc.host.api import Environment as Environment


def __getattr__(name: str) -> Any:
    if name == "Environment":
        from localsvc.host.api import Environment

        return Environment
    raise AttributeError(f"module 'localsvc' has no attribute {name!r}")
