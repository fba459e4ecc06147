"""A failed TCP connect in Go's words: what net.OpError prints after "dial tcp ADDRESS: ". Pure.

kubectl users read these words from the API server (the proxy's 503, port-forward's error
stream), so the node says them as Go says them: "connect: connection refused", "i/o timeout",
"connect: no route to host" (the OS's words in lower case, as Go's syscall errors are).
"""

from __future__ import annotations

import os


def connect_reason(error: BaseException) -> str:
    """The reason part of Go's dial error for a Python connect error."""
    # TimeoutError is an OSError: Go's deadline error has no "connect:" and no errno words.
    if isinstance(error, TimeoutError):
        return "i/o timeout"
    if isinstance(error, OSError):
        # The errno's words first: asyncio replaces strerror with its own ("Connect call
        # failed ('10.0.0.5', 80)").
        words = (os.strerror(error.errno) if isinstance(error.errno, int) and error.errno
                 else error.strerror)
        if words:
            return f"connect: {words.lower()}"
        if isinstance(error, ConnectionRefusedError):
            return "connect: connection refused"
    return str(error) or type(error).__name__


__all__ = ["connect_reason"]
