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
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    # Python parses at most microseconds: drop the extra digits of Docker's nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
