"""The one exception of the Kubernetes API: a request answered with a metav1.Status.

Pure rules raise it with the Status the API server would answer (model/kubeapi/status.py builds
them); the node's router turns it into the response, with the Status's code as HTTP status.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: dict[str, Any]):
        super().__init__(str(status.get("message", "")))
        self.status = status

    @property
    def code(self) -> int:
        return int(self.status.get("code", 500))


__all__ = ["ApiError"]
