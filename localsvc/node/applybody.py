"""An apply request body, decoded (model/applywire.py, the format both ends share) and validated,
off the event loop that answers DNS: it runs in the API's apply executor (a thread).
Validation is Python code and yields the GIL by itself.
"""

from __future__ import annotations

from localsvc.errors import ManifestError
from localsvc.model.applywire import BadRequest, decode_apply
from localsvc.model.load import Manifest
from localsvc.model.validate import validate

__all__ = ["BadRequest", "parse_apply"]  # BadRequest: the 400 of a body that is not an apply


def parse_apply(raw: bytes) -> tuple[list[Manifest], bool]:
    """An apply request body, parsed and validated; ManifestError lists every problem."""
    manifests, prune = decode_apply(raw)
    problems = validate(manifests)
    if problems:
        raise ManifestError(problems)
    return manifests, prune
