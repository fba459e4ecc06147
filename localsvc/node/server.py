"""The node's HTTPS API (aiohttp): the Kubernetes API (node/kubeapi/) and the private /v1 routes
for what Kubernetes has no verb for (an all-or-nothing apply of a set with prune, the node's
status, image restarts, DNS queries, leases, tunnels, connection counts); a bearer token on
every call but the health checks and /version. Objects are read, deleted and scaled through
the Kubernetes API only.

Published on the host's 127.0.0.1 only (the host side chooses the binding). Handlers translate
requests into Controller calls and LocalsvcErrors into status codes; no logic of their own.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from dnslib import QTYPE, RCODE, DNSRecord

from localsvc.errors import LocalsvcError, ManifestError, NotFound
from localsvc.model.load import Manifest
from localsvc.node.applybody import parse_apply
from localsvc.node.changes import Prepared, prepare
from localsvc.node.connections import add_connection_routes
from localsvc.model.kubeapi.status import unauthorized
from localsvc.node.controller import Controller
from localsvc.node.incluster import TokenCheck
from localsvc.node.kubeapi import proxy
from localsvc.node.longstreams import add_stream_tracking
from localsvc.node.kubeapi.app import PUBLIC_PATHS, KubeApi, is_kube_path, status_response
from localsvc.node.tunnel import add_tunnel_routes

log = logging.getLogger("localsvc.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _internal_error(what: str, env: str, err: Exception) -> web.Response:
    """A node bug as a message the CLI can show, never a bare "Internal Server Error"."""
    log.exception("%s failed", what)
    return web.json_response({"error": (
        f"the node failed to {what}: {type(err).__name__}: {err} (a bug in localsvc; details "
        f"in `docker logs localsvc-{env}-node`)")}, status=500)


def make_app(controller: Controller, token: str, env: str) -> web.Application:
    # Apply bodies are parsed and validated here, not on the event loop; one apply at a time
    # is validated, a second waits (each holds the GIL in turns, DNS answers in between).
    apply_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apply")
    # The Kubernetes API also takes the service-account tokens this environment gave its pods
    # (no RBAC: full access, as the environment's token). The private /v1 routes (an apply
    # that prunes the whole environment, tunnels, restarts) are the localsvc CLI's: they take
    # the environment's token only, so a pod's token reaches no more than the Kubernetes API.
    service_accounts = TokenCheck(token, controller.objects)

    @web.middleware
    async def errors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given, f"Bearer {token}"):
                if not is_kube_path(request.path):
                    return web.json_response({"error": "missing or wrong token"}, status=401)
                if service_accounts.subject(given) is None:
                    return status_response(unauthorized())
        try:
            return await handler(request)
        except ManifestError as err:
            return web.json_response(
                {"error": str(err), "problems": [p.__dict__ for p in err.problems]}, status=422
            )
        except NotFound as err:
            return web.json_response({"error": str(err)}, status=404)
        except LocalsvcError as err:
            return web.json_response({"error": str(err)}, status=400)
        except web.HTTPException:
            raise  # aiohttp's own answers (404 of an unknown route, 405, ...)
        except Exception as err:  # every route: a node bug is a message, not a bare 500
            return _internal_error(f"answer {request.method} {request.path}", env, err)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "env": env})

    async def apply(request: web.Request) -> web.Response:
        """Apply a set of manifests all or nothing, and with prune (`localsvc up`) delete every
        object the set no longer names: the Kubernetes API has no verb for that (kubectl
        applies object by object; `kubectl apply --prune` lists and deletes from the client)."""
        raw = await request.read()
        loop = asyncio.get_running_loop()

        def parse_and_prepare() -> tuple[list[Manifest], bool, list[Prepared]]:
            manifests, prune = parse_apply(raw)
            return manifests, prune, prepare(manifests, controller.state.objects)

        manifests, prune, prepared = await loop.run_in_executor(apply_executor,
                                                                parse_and_prepare)
        try:
            results = await controller.apply_async(manifests, prune, prepared)
        except LocalsvcError:
            raise
        except Exception as err:  # all or nothing: the apply changed nothing
            return _internal_error("apply the manifests (nothing was changed)", env, err)
        return web.json_response({"results": results})

    async def restart(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"results": controller.restart_image(str(body["image"]))})

    async def status(request: web.Request) -> web.Response:
        try:
            return web.json_response(controller.status())
        except Exception as err:
            return _internal_error("report its status", env, err)

    async def dns(request: web.Request) -> web.Response:
        """Ask the environment's DNS server, exactly as a pod would (UDP, then TCP if cut)."""
        name = request.query.get("name", "")
        qtype = request.query.get("type", "A").upper()
        if not name or qtype not in QTYPE.reverse:
            raise web.HTTPBadRequest(text="dns needs ?name=NAME&type=A|AAAA|SRV|PTR|TXT|CNAME|SOA|ANY")
        question = DNSRecord.question(name, qtype)
        server = controller.ctx.config.node_ip

        def ask() -> DNSRecord:
            raw = question.send(server, 53, timeout=3)
            reply = DNSRecord.parse(raw)
            if reply.header.tc:
                reply = DNSRecord.parse(question.send(server, 53, tcp=True, timeout=3))
            return reply

        reply = await asyncio.to_thread(ask)
        return web.json_response({
            "rcode": RCODE[reply.header.rcode],
            "answer": [str(rr) for rr in reply.rr],
            "authority": [str(rr) for rr in reply.auth],
            "additional": [str(rr) for rr in reply.ar],
        })

    app = web.Application(middlewares=[errors_and_auth], client_max_size=64 * 1024 * 1024)
    app.router.add_get("/v1/status", status)
    app.router.add_post("/v1/restart", restart)
    app.router.add_get("/v1/dns", dns)
    add_tunnel_routes(app)
    add_connection_routes(app, controller.network)  # new connections per Service port
    proxy.add_client_session(app)  # the services/pods proxy's, closed on cleanup
    add_stream_tracking(app)  # watches, followed logs, exec, port-forwards: ended on shutdown
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/v1/apply", apply)
    KubeApi(controller).add_routes(app)
    return app
