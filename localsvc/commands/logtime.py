"""`logs --since=5m` and `--since-time=2026-12-07T03:00:00Z`: times as kubectl reads them. Pure."""

from __future__ import annotations

import re
from datetime import datetime

from localsvc.commands.common import UsageError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration: `30s`, `5m`, `1h30m`, `1.5h`, `250ms`."""
    position, total = 0, 0.0
    while position < len(text):
        part = _PART.match(text, position)
        if part is None:
            break
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    if not text or position != len(text):
        raise UsageError(f"--since={text}: not a duration; use a number with a unit "
                         "(s, m, h), e.g. --since=30s, --since=5m, --since=1h30m")
    return total


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (`Z` or an offset is required)."""
    # Python reads microseconds at most: kubectl's and Docker's nanoseconds are cut to them.
    normal = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", re.sub(r"[zZ]$", "+00:00", text.strip()))
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in normal.upper():
        raise UsageError(f"--since-time={text}: not an RFC 3339 time; use e.g. "
                         "--since-time=2026-12-07T03:00:00Z")
    return moment.timestamp()


def since_of(since: str | None, since_time: str | None, now: float) -> float | None:
    """The moment logs start at, or None for the whole log."""
    if since is not None and since_time is not None:
        raise UsageError("logs: --since and --since-time cannot be used together; choose one")
    if since is not None:
        return now - parse_duration(since)
    if since_time is not None:
        return parse_rfc3339(since_time)
    return None
