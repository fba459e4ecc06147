"""Named, referenced, watched background tasks: no fire-and-forget create_task anywhere.

A base module like errors.py, below every layer: dns/, net/, node/ and the host all spawn tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("localsvc.tasks")
_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    """Start a task that is kept referenced until it ends and logged if it dies of an error."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("task %s died: %r", task.get_name(), error, exc_info=error)
