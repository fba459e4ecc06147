"""Ending the process of an exec whose client left mid-stream.

Closing the engine's stream ends most sessions by itself (a TTY's shell gets its hangup, a
reader of stdin its EOF); a process that ignores both (`sleep`, a server) would run on with no
one to read it, so the node finds it inside the container (model/kubeapi/procscan.py) and kills
it and its descendants. Blocking: run it in a thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from localsvc.model.kubeapi.procscan import SCAN_SCRIPT, parse_scan, pick
from localsvc.runtime.execs import exit_code

log = logging.getLogger("localsvc.kubeapi.exec")

HANGUP_WAIT = 2.0  # seconds the process gets to end by itself once its stream is closed


def end_leftover(api: Any, container_id: str, exec_id: str, command: Sequence[str],
                 started: float) -> bool:
    """End the exec's process if it still runs; whether it has ended."""
    if exit_code(api, exec_id, HANGUP_WAIT) is not None:
        return True
    try:
        scan_id = api.exec_create(container_id, ["sh", "-c", SCAN_SCRIPT], stdout=True,
                                  stderr=False)["Id"]
        uptime, processes = parse_scan(api.exec_start(scan_id))
        pids = pick(uptime, processes, command, time.monotonic() - started)
        if pids:
            kill_id = api.exec_create(container_id, ["kill", "-KILL", *map(str, pids)],
                                      stdout=False, stderr=False)["Id"]
            api.exec_start(kill_id)
    except Exception as err:  # no sh or kill in the image, the container just ended...
        log.info("exec %s: its client left; ending its process failed: %s", exec_id[:12], err)
        return False
    ended = exit_code(api, exec_id, HANGUP_WAIT) is not None
    if not ended:
        log.info("exec %s still runs after its client left (no process matched %s)",
                 exec_id[:12], list(command))
    return ended
