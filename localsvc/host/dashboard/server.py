"""The dashboard's aiohttp application: the routes of the dashboard contract (login, the page
and its assets, /localsvc/info, the proxied Kubernetes API), behind access.py's checks."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from localsvc.host.dashboard import access, wsstream
from localsvc.host.dashboard.proxy import NodeProxy, status_response
from localsvc.version import __version__

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Every answer: never framed by another page (the buttons change things: clickjacking), and no
# Referer carrying this server's URLs elsewhere.
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
                    "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
# The page's file types, whatever a MIME table says (Python 3.11's knows no .mjs, and browsers
# run an ES module only when it is served as JavaScript).
ASSET_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
               ".html": "text/html", ".svg": "image/svg+xml", ".json": "application/json",
               ".map": "application/json", ".png": "image/png", ".woff2": "font/woff2"}


def static_dir() -> Path:
    """The page's files, shipped in the package (pyproject.toml's package data)."""
    return Path(str(resources.files("localsvc.host.dashboard") / "static"))


@dataclass
class Site:
    """What the server knows about itself and its environment."""

    env: str
    context: str  # the kubeconfig context `localsvc kubeconfig` writes
    namespace: str = "default"
    devloop: bool = False  # served by a foreground `localsvc up`
    port: int = 0  # set once the socket is bound
    host_address: str = "127.0.0.1"  # where the environment's host URLs point
    static: Path = field(default_factory=static_dir)
    logins: access.Logins = field(default_factory=access.Logins)

    def info(self) -> dict[str, Any]:
        return {"env": self.env, "namespace": self.namespace, "hostAddress": self.host_address,
                "context": self.context, "devloop": self.devloop, "version": __version__}


PROXY_KEY = web.AppKey("proxy", NodeProxy)
SITE_KEY = web.AppKey("site", Site)


def page(status: int, title: str, text: str) -> web.Response:
    """A short HTML page (the errors a person sees in the browser)."""
    body = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return web.Response(status=status, text=body, content_type="text/html")


UI_HINT = "run `localsvc ui` (or look at the output of `localsvc up`) for a new login link"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host, Origin and CSRF checks before any route (access.py says why)."""
    site: Site = request.app[SITE_KEY]
    if not access.host_allowed(request.headers.get("Host"), site.port):
        return page(403, "wrong host",
                    f"this dashboard answers at http://127.0.0.1:{site.port}/ only")
    if problem := access.csrf_problem(request.method, request.headers.get("Origin"),
                                      request.headers.get(access.CSRF_HEADER), site.port):
        return status_response(403, "Forbidden", problem)
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, streamed ones too (on_response_prepare)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _signed_in(request: web.Request) -> bool:
    site: Site = request.app[SITE_KEY]
    return site.logins.valid_session(request.cookies.get(access.SESSION_COOKIE))


async def login(request: web.Request) -> web.StreamResponse:
    site: Site = request.app[SITE_KEY]
    session = site.logins.redeem(request.query.get("code", ""))
    if session is None:
        return page(403, "login link used or expired",
                    "this link was used or expired: run `localsvc ui` for a new one")
    response = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
    response.headers["Set-Cookie"] = access.session_cookie_header(session)
    return response


async def index(request: web.Request) -> web.StreamResponse:
    site: Site = request.app[SITE_KEY]
    if not _signed_in(request):
        return page(401, "not signed in", f"the dashboard of {site.env} needs a login link: "
                    + UI_HINT)
    index_file = site.static / "index.html"
    if not index_file.is_file():
        return page(500, "page missing", f"{index_file} is not installed; reinstall localsvc")
    return web.FileResponse(index_file, headers={"Cache-Control": "no-store"})


async def asset(request: web.Request) -> web.StreamResponse:
    """A file of static/ (no session needed: nothing secret in them); nothing outside it."""
    root = request.app[SITE_KEY].static.resolve()
    target = (root / request.match_info["path"]).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return page(404, "not found", f"{request.path}: no such file of the dashboard")
    # no-cache: revalidated each time (ETag), so a localsvc upgrade never mixes old and new files.
    headers = {"Cache-Control": "no-cache"}
    if content_type := ASSET_TYPES.get(target.suffix):
        headers["Content-Type"] = content_type
    return web.FileResponse(target, headers=headers)


async def info(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        return status_response(401, "Unauthorized", "not signed in: " + UI_HINT)
    return web.json_response(request.app[SITE_KEY].info())


async def websocket_stream(request: web.Request) -> web.StreamResponse:
    """A proxied GET over a WebSocket (wsstream.py says why)."""
    path = request.query.get("path", "")
    if not access.proxied("GET", path):
        return status_response(404, "NotFound", f"{path!r}: not a path the dashboard proxies")
    if not _signed_in(request):
        return status_response(401, "Unauthorized", "not signed in: " + UI_HINT)
    return await wsstream.stream(request, request.app[PROXY_KEY], path)


async def proxy(request: web.Request) -> web.StreamResponse:
    """The Kubernetes API and GET /v1/connections, to the node; 404 for anything else."""
    if not access.proxied(request.method, request.rel_url.raw_path):
        return status_response(404, "NotFound", f"{request.method} {request.path}: no such route "
                               "on the dashboard")
    if not _signed_in(request):
        return status_response(401, "Unauthorized", "not signed in: " + UI_HINT)
    return await request.app[PROXY_KEY].handle(request)


def make_app(site: Site, node: NodeProxy) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=16 * 1024 * 1024)
    app[SITE_KEY] = site
    app[PROXY_KEY] = node

    async def close_proxy(_: web.Application) -> None:
        await node.close()

    app.on_cleanup.append(close_proxy)
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/login", login)
    app.router.add_get("/", index)
    app.router.add_get("/localsvc/info", info)
    app.router.add_get("/localsvc/stream", websocket_stream)
    app.router.add_get("/static/{path:.+}", asset)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


__all__ = ["Site", "make_app", "static_dir"]
