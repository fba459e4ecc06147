"""Running socket tests on plain asyncio and on uvloop (the node's loop), shared by tests/net."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

_current = ["asyncio"]


def loop_fixture(autouse: bool) -> Any:
    """A `loop_kind` fixture: each test using it runs once per event loop (uvloop if installed)."""

    @pytest.fixture(autouse=autouse, params=["asyncio", "uvloop"])
    def loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
        if request.param == "uvloop":
            pytest.importorskip("uvloop")
        _current[0] = request.param
        yield request.param
        _current[0] = "asyncio"

    return loop_kind


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    """Run a test coroutine on the loop of the current `loop_kind`, bounded to 30 s."""

    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), 30)

    if _current[0] == "uvloop":
        import uvloop

        uvloop.run(bounded())
    else:
        asyncio.run(bounded())
