"""The dashboard's access rules (host/dashboard/access.py): one-time login codes with their
expiry (a clock passed in), sessions, the Host/Origin/CSRF checks, the paths that reach the node."""

from __future__ import annotations

import pytest

from localsvc.host.dashboard import access
from localsvc.host.dashboard.access import (
    Logins,
    csrf_problem,
    host_allowed,
    origin_allowed,
    proxied,
    session_cookie_header,
)

PORT = 41234


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_opens_one_session_once() -> None:
    logins = Logins(clock=Clock())
    code = logins.new_code()
    session = logins.redeem(code)
    assert session is not None and logins.valid_session(session)
    assert logins.redeem(code) is None  # used
    assert logins.valid_session(session)  # the session it opened stays


def test_codes_are_random_and_independent() -> None:
    logins = Logins(clock=Clock())
    first, second = logins.new_code(), logins.new_code()
    assert first != second and len(first) >= 40
    assert logins.redeem(second) is not None
    assert logins.redeem(first) is not None


def test_a_code_expires_after_ten_minutes() -> None:
    clock = Clock()
    logins = Logins(clock=clock)
    assert access.CODE_LIFETIME == 600.0
    kept, late = logins.new_code(), logins.new_code()
    clock.now += 599.9
    assert logins.redeem(kept) is not None
    clock.now += 0.1
    assert logins.redeem(late) is None


def test_unknown_codes_and_sessions_are_refused() -> None:
    logins = Logins(clock=Clock())
    code = logins.new_code()
    assert logins.redeem("") is None
    assert logins.redeem(code + "x") is None
    assert not logins.valid_session(None)
    assert not logins.valid_session("")
    assert not logins.valid_session(code)  # a code is not a session
    assert logins.redeem(code) is not None  # the wrong guesses did not use it up


def test_the_session_cookie_is_http_only_same_site_strict() -> None:
    header = session_cookie_header("abc")
    assert header.startswith("localsvc_session=abc;")
    attributes = {part.strip() for part in header.split(";")[1:]}
    assert attributes == {"HttpOnly", "SameSite=Strict", "Path=/"}


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}",
                                  f"LOCALHOST:{PORT}"])
def test_own_hosts_pass(host: str) -> None:
    assert host_allowed(host, PORT)


@pytest.mark.parametrize("host", [None, "", "127.0.0.1", f"127.0.0.1:{PORT + 1}",
                                  f"evil.example:{PORT}", f"127.0.0.2:{PORT}",
                                  f"[::1]:{PORT}", f"localhost.evil.example:{PORT}"])
def test_foreign_hosts_are_refused(host: str | None) -> None:
    # A page of another name rebound to 127.0.0.1 sends its own name as Host.
    assert not host_allowed(host, PORT)


def test_origins() -> None:
    assert origin_allowed(None, PORT)
    assert origin_allowed(f"http://127.0.0.1:{PORT}", PORT)
    assert origin_allowed(f"http://localhost:{PORT}", PORT)
    for foreign in ("null", f"https://127.0.0.1:{PORT}", f"http://127.0.0.1:{PORT + 1}",
                    "http://evil.example", f"http://evil.example:{PORT}"):
        assert not origin_allowed(foreign, PORT), foreign


def test_reads_need_no_marker_changes_do() -> None:
    own = f"http://127.0.0.1:{PORT}"
    assert csrf_problem("GET", None, None, PORT) is None
    assert csrf_problem("HEAD", own, None, PORT) is None
    for method in ("POST", "PUT", "PATCH", "DELETE", "patch"):
        problem = csrf_problem(method, None, None, PORT)
        assert problem is not None and "X-Localsvc-Dashboard: 1" in problem
        assert csrf_problem(method, own, "1", PORT) is None
        assert csrf_problem(method, None, "1", PORT) is None  # no Origin: not a browser's
        assert csrf_problem(method, own, "0", PORT) is not None


def test_a_foreign_origin_is_refused_whatever_the_method() -> None:
    for method in ("GET", "PATCH"):
        problem = csrf_problem(method, "http://evil.example", "1", PORT)
        assert problem is not None and "http://evil.example" in problem


@pytest.mark.parametrize("method,path", [
    ("GET", "/api"), ("GET", "/api/v1/namespaces/default/pods"),
    ("GET", "/api/v1/pods?watch=1&resourceVersion=5"), ("GET", "/apis"),
    ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"),
    ("DELETE", "/api/v1/namespaces/default/pods/web-1"),
    ("POST", "/api/v1/namespaces/default/events"),
    ("GET", "/api/v1/namespaces/default/pods/web-1/log?follow=true&container=app"),
    ("GET", "/version"), ("GET", "/v1/connections"), ("GET", "/v1/connections?watch=1"),
    ("HEAD", "/v1/connections"),
])
def test_paths_that_reach_the_node(method: str, path: str) -> None:
    assert proxied(method, path)


@pytest.mark.parametrize("method,path", [
    ("GET", "/"), ("GET", "/v1/apply"), ("POST", "/v1/apply"), ("GET", "/v1/status"),
    ("POST", "/v1/connections"), ("DELETE", "/v1/connections"), ("GET", "/v1/connections/x"),
    ("GET", "/apix"), ("GET", "/versions"), ("GET", "/version/x"), ("GET", "/healthz"),
    ("GET", "/api/../v1/apply"), ("GET", "/api/%2e%2e/v1/apply"), ("GET", "/api/./v1"),
    ("GET", "/api/v1/namespaces%2Fdefault"), ("GET", "/api%2F..%2Fv1/apply"),
    ("GET", "//api/v1/pods"), ("GET", "/api//v1"), ("GET", "/api\\..\\v1"), ("GET", "api/v1"),
])
def test_everything_else_does_not(method: str, path: str) -> None:
    assert not proxied(method, path)
