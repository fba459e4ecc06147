"""Serving the dashboard: on a socket bound at once (a port that cannot be had is known before
anything is printed), in a background thread of a foreground `localsvc up`, or in the foreground
of `localsvc ui` until Ctrl-C."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from localsvc.errors import LocalsvcError
from localsvc.host.dashboard.proxy import NodeProxy
from localsvc.host.dashboard.server import Site, make_app
from localsvc.net.sockets import listening_socket

if TYPE_CHECKING:
    from localsvc.host.api import Environment

ADDRESS = "127.0.0.1"  # never another interface: the page can change the environment
PORT_VARIABLE = "LOCALSVC_UI_PORT"
# Open watches and followed logs are cancelled on stop; nothing waits the default minute.
SHUTDOWN_TIMEOUT = 1.0


class DashboardError(LocalsvcError):
    """The dashboard cannot be served (its port is taken, a bad LOCALSVC_UI_PORT)."""


def chosen_port(port: int | None, environ: Mapping[str, str] | None = None) -> int:
    """--port, else $LOCALSVC_UI_PORT, else 0 (any free port)."""
    env = os.environ if environ is None else environ
    if port is None:
        text = env.get(PORT_VARIABLE, "").strip()
        if not text:
            return 0
        if not text.isdigit():
            raise DashboardError(f"{PORT_VARIABLE}={text!r} is not a port number; set it to "
                                 "a number from 1 to 65535, or unset it for any free port")
        port = int(text)
    if not 0 <= port <= 65535:
        raise DashboardError(f"dashboard port {port} is out of range: choose 1 to 65535 "
                             "(0 for any free port)")
    return port


def bind(port: int) -> socket.socket:
    try:
        return listening_socket(ADDRESS, port, socket.SOCK_STREAM)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise DashboardError(
                f"port {port} on {ADDRESS} is already in use by another program: choose another "
                f"with --port or {PORT_VARIABLE}, or leave both unset for any free port") from None
        raise DashboardError(f"cannot listen on {ADDRESS}:{port}: {err}") from err


class Dashboard:
    """One dashboard server: bound when made, served by start() (a thread) or serve()."""

    def __init__(self, site: Site, node: NodeProxy, port: int = 0):
        self.sock = bind(port)
        self.port = int(self.sock.getsockname()[1])
        site.port = self.port
        self.site = site
        self.node = node
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{ADDRESS}:{self.port}/"

    def login_url(self) -> str:
        """A new one-time login link (valid ten minutes)."""
        return f"{self.url}login?code={self.site.logins.new_code()}"

    async def _serve(self, foreground: bool = False,
                     on_ready: Callable[[], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if foreground:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(sig, self._stop.set)
        runner = web.AppRunner(make_app(self.site, self.node), handler_cancellation=True,
                               shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, self.sock).start()
            self._started.set()
            if on_ready is not None:  # on a thread of its own: a console browser blocks
                threading.Thread(target=on_ready, name="on-ready", daemon=True).start()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            self.sock.close()

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in this thread until SIGINT or SIGTERM (Ctrl-C); `on_ready` runs (on a thread)
        once requests are answered."""
        asyncio.run(self._serve(foreground=True, on_ready=on_ready))

    def start(self, timeout: float = 10.0) -> None:
        """Serve in a daemon thread; returns once requests are answered."""
        def run() -> None:
            try:
                asyncio.run(self._serve())
            except BaseException as err:  # reported by start() or seen in stop()
                self._error = err
                self._started.set()

        self._thread = threading.Thread(target=run, name="dashboard", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            raise DashboardError(f"the dashboard did not start: {self._error or 'timed out'}")

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout)


def for_environment(env: Environment, *, devloop: bool = False,
                    port: int | None = None) -> Dashboard:
    """The dashboard of a running environment; EnvironmentNotFound when it does not exist or
    its node does not run, DashboardError when the port cannot be had."""
    from localsvc.model.kubeconfig import context_name

    client = env.node()  # asks Docker where the node is, and raises when it does not run
    host = env.host_address if env.host_address != "0.0.0.0" else "127.0.0.1"
    site = Site(env=env.name, context=context_name(env.name), devloop=devloop, host_address=host)
    return Dashboard(site, NodeProxy(client.address, refresh=client.refresh),
                     port=chosen_port(port))




def start_for_devloop(env: Environment, say: Callable[[str], None]) -> Dashboard | None:
    """The dashboard of a foreground `localsvc up`, serving in a thread, its login link said;
    None (and why said) when it cannot be served: the dev loop runs on without it."""
    try:
        dashboard = for_environment(env, devloop=True)
        dashboard.start()
    except LocalsvcError as err:
        say(f"dashboard not served: {err}")
        return None
    say(f"dashboard: {dashboard.login_url()}")
    return dashboard


__all__ = ["ADDRESS", "Dashboard", "DashboardError", "PORT_VARIABLE", "chosen_port",
           "for_environment", "start_for_devloop"]
