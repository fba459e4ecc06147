"""Docker's container events, read in a thread of their own, wake the worker of the pod they
concern (the worker then inspects its containers; events carry no state the node trusts).

The stream uses its own client without a timeout (a shared client's timeout would end the
stream); when the engine restarts or the stream breaks, it reconnects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import docker

from localsvc.runtime import labels as L

log = logging.getLogger("localsvc.dockerevents")
# The container events that can change what a pod worker sees.
WAKING = frozenset({"die", "start", "destroy", "oom", "stop"})
RECONNECT_SECONDS = 1.0


def pod_uid_to_wake(event: Mapping[str, Any]) -> str | None:
    """The pod uid whose worker `event` (a decoded Docker event) should wake, or None."""
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    uid = attrs.get(L.POD_UID)
    if uid and event.get("status") in WAKING:
        return str(uid)
    return None


def watch_pod_events(env: str, wake: Callable[[str], object]) -> None:
    """Call wake(pod uid) for each waking event of `env`'s containers, forever (a thread)."""
    label = f"{L.ENV}={env}"
    while True:
        try:
            client = docker.from_env(timeout=None)
            for event in client.events(decode=True, filters={"type": "container", "label": label}):
                uid = pod_uid_to_wake(event)
                if uid is not None:
                    wake(uid)
        except Exception as err:  # the engine restarted or the stream broke: reconnect
            log.warning("docker event stream: %s; reconnecting", err)
            time.sleep(RECONNECT_SECONDS)


def start_watching(env: str, wake: Callable[[str], object]) -> threading.Thread:
    thread = threading.Thread(target=watch_pod_events, args=(env, wake), name="docker-events",
                              daemon=True)
    thread.start()
    return thread


__all__ = ["WAKING", "pod_uid_to_wake", "start_watching", "watch_pod_events"]
