"""Times as Kubernetes objects and the Docker engine write them. Pure.

Kubernetes writes RFC 3339 in UTC to the second ("2026-12-07T03:07:14Z", metav1.Time); Docker
writes RFC 3339 with up to nanoseconds and its zero time "0001-01-01T00:00:00Z" for "never".
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

KUBERNETES_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_iso(ts: float | None = None) -> str:
    """Epoch seconds `ts` (now when None) as a Kubernetes timestamp."""
    return time.strftime(KUBERNETES_TIME_FORMAT, time.gmtime(ts if ts is not None else time.time()))


def iso_time(ts: float | None) -> str | None:
    """A time the object may not have yet (0 or None: not yet) as a Kubernetes timestamp."""
    return now_iso(ts) if ts else None


def docker_time(value: Any) -> float | None:
    """Epoch seconds of a Docker timestamp: an int (container lists) or RFC 3339 with up to
    nanoseconds; None for Docker's zero time ("0001-01-01T00:00:00Z", never finished) and for
    anything that is not a time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    return rfc3339_seconds(value)


def rfc3339_seconds(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 time (a date, "T", a time, and "Z" or an offset; up to
    nanoseconds, as Docker and kubectl write them); None for anything else."""
    # Python reads microseconds at most: the extra digits of nanoseconds are cut.
    normal = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", re.sub(r"[zZ]$", "+00:00", text.strip()))
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError:
        return None
    if moment.tzinfo is None or "T" not in normal.upper():
        return None
    return moment.timestamp()
