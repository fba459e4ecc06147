"""The error of a patch that cannot be applied, with the HTTP status the API server answers with.
Pure."""

from __future__ import annotations

BAD_REQUEST = 400  # a malformed patch
TOO_LARGE = 413  # too many JSON patch operations
UNSUPPORTED_MEDIA_TYPE = 415  # a strategic merge patch of a type without patch metadata
INVALID = 422  # a JSON patch that does not apply; a list of lists in a strategic merge patch
# The strategic merge errors the API server does not classify (an unknown $patch directive, a
# list element without its merge key) reach the client as 500 InternalError; so do they here.
INTERNAL = 500


class PatchError(Exception):
    """A patch that cannot be applied: the message names what is wrong and where; status is the
    HTTP status the API server answers with (the caller turns it into a metav1.Status)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status
