"""Who may use the dashboard and what reaches the node: the pure rules, no I/O.

The server binds 127.0.0.1 only, yet any web page the user opens can make the browser send
requests there, and a DNS name of an attacker's can be made to resolve to 127.0.0.1 (DNS
rebinding). So:
- the only way in is a one-time login code the host process printed (random, single use, valid
  ten minutes), exchanged for an HttpOnly, SameSite=Strict session cookie; the environment's
  token itself never leaves the host process;
- every request's Host must be this server's own (127.0.0.1:PORT or localhost:PORT), which a
  rebinding page cannot send;
- an Origin header, when present, must be this server's own; a request that changes something
  (any method but GET/HEAD) must carry `X-Localsvc-Dashboard: 1`, a header no cross-site form or
  simple request can set without a CORS preflight this server never grants;
- only the Kubernetes API (/api, /apis, /version) and GET /v1/connections are proxied; nothing
  else of the node's private /v1 routes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

CODE_LIFETIME = 600.0  # seconds a printed login link stays valid
SESSION_COOKIE = "localsvc_session"
CSRF_HEADER = "X-Localsvc-Dashboard"
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost")

Clock = Callable[[], float]


def _digest(secret: str) -> str:
    # Kept as digests: a lookup compares hashes, not the secrets themselves, so its timing tells
    # nothing about a secret's prefix.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Logins:
    """The login codes handed out and the sessions they opened, of one server process."""

    clock: Clock = time.monotonic
    lifetime: float = CODE_LIFETIME
    _codes: dict[str, float] = field(default_factory=dict)  # digest -> expiry
    _sessions: set[str] = field(default_factory=set)  # digests

    def new_code(self) -> str:
        code = secrets.token_urlsafe(32)
        self._codes[_digest(code)] = self.clock() + self.lifetime
        return code

    def redeem(self, code: str) -> str | None:
        """A new session id for a valid code, which is then used up; None for an unknown, used
        or expired one."""
        now = self.clock()
        self._codes = {d: expiry for d, expiry in self._codes.items() if expiry > now}
        expiry = self._codes.pop(_digest(code), None)
        if expiry is None:
            return None
        session = secrets.token_urlsafe(32)
        self._sessions.add(_digest(session))
        return session

    def valid_session(self, session: str | None) -> bool:
        return bool(session) and _digest(session or "") in self._sessions


def session_cookie_header(session: str) -> str:
    """The Set-Cookie value for a session: HttpOnly (no script reads it), SameSite=Strict (no
    other site's page sends it), for the whole server, gone when the browser closes."""
    return f"{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/"


def own_hosts(port: int) -> frozenset[str]:
    """The Host header values this server answers to."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def host_allowed(host: str | None, port: int) -> bool:
    return (host or "").lower() in own_hosts(port)


def origin_allowed(origin: str | None, port: int) -> bool:
    """No Origin (a same-origin GET, curl) is fine; else it must be this server's own."""
    if origin is None:
        return True
    return origin.lower() in {f"http://{host}" for host in own_hosts(port)}


def csrf_problem(method: str, origin: str | None, marker: str | None, port: int) -> str | None:
    """Why a request may not change anything, or None when it may."""
    if not origin_allowed(origin, port):
        return f"requests from {origin} are refused: the dashboard answers its own page only"
    if method.upper() not in SAFE_METHODS and marker != "1":
        return f"a {method.upper()} request needs the header {CSRF_HEADER}: 1"
    return None


def proxied(method: str, raw_path: str) -> bool:
    """Whether a request goes to the node: every method on the Kubernetes API (/api, /apis,
    /version and below), GET on /v1/connections; never a path with dot segments or an encoded
    slash, which could name another route once the node decodes it."""
    path = raw_path.split("?", 1)[0]
    decoded = unquote(path)
    if "%2f" in path.lower() or "%5c" in path.lower() or "\\" in decoded:
        return False
    segments = decoded.split("/")
    if any(s in (".", "..") for s in segments) or not path.startswith("/") or "//" in path:
        return False
    first = segments[1] if len(segments) > 1 else ""
    if first in ("api", "apis", "version"):
        return first != "version" or decoded in ("/version", "/version/")
    return method.upper() in SAFE_METHODS and decoded == "/v1/connections"


__all__ = [
    "CODE_LIFETIME", "CSRF_HEADER", "SESSION_COOKIE", "Logins", "csrf_problem", "host_allowed",
    "origin_allowed", "own_hosts", "proxied", "session_cookie_header",
]
