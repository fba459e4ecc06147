"""`logs --since=5m` and `--since-time=2026-12-07T03:00:00Z`: times as kubectl reads them. Pure."""

from __future__ import annotations

import re

from localsvc.host.commands.common import UsageError
from localsvc.model.clock import rfc3339_seconds

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
    moment = rfc3339_seconds(text)
    if moment is None:
        raise UsageError(f"--since-time={text}: not an RFC 3339 time; use e.g. "
                         "--since-time=2026-12-07T03:00:00Z")
    return moment


def since_of(since: str | None, since_time: str | None, now: float) -> float | None:
    """The moment logs start at, or None for the whole log."""
    if since is not None and since_time is not None:
        raise UsageError("logs: --since and --since-time cannot be used together; choose one")
    if since is not None:
        return now - parse_duration(since)
    if since_time is not None:
        return parse_rfc3339(since_time)
    return None
