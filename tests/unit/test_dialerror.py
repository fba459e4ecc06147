"""A failed connect in Go's words (model/dialerror.py), as kubectl shows them."""

from __future__ import annotations

import errno

import pytest

from localsvc.model.dialerror import connect_reason


@pytest.mark.parametrize("error, expected", [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
     "connect: connection refused"),
    # An errno without the OS's words: the words come from the errno.
    (OSError(errno.EHOSTUNREACH, None), "connect: no route to host"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "connect: no route to host"),
    (ConnectionRefusedError(), "connect: connection refused"),
    # asyncio's own strerror: the errno says what Go says.
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('10.0.0.5', 80)"),
     "connect: connection refused"),
    (TimeoutError(), "i/o timeout"),
    (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "i/o timeout"),
    (OSError("bad address"), "bad address"),
    (ValueError(), "ValueError"),
])
def test_connect_reason_in_gos_words(error: BaseException, expected: str) -> None:
    assert connect_reason(error) == expected
