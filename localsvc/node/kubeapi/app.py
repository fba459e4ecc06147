"""The Kubernetes API's routes on the node's aiohttp app.

Discovery (/api, /apis, their group-versions, aggregated or legacy as the client asks), OpenAPI
v2 and v3, /version and the health checks, and every resource path: the verb comes from the
method and the path (model/kubeapi/paths.py), the resource from the registry; reads.py answers
get, list and watch, writes.py the changes. Every failure is a metav1.Status with the API
server's reason and code, never a bare error page.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from localsvc.model.kubeapi import discovery, openapi
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import BadPath, Target, parse
from localsvc.model.kubeapi.protobuf import ProtobufError, decode_request, is_protobuf
from localsvc.model.kubeapi.resources import Resource, by_path
from localsvc.model.nodeconfig import IN_CLUSTER_API_PORT
from localsvc.node.controller import Controller
from localsvc.node.kubeapi import podexec, podlogs, portforward, proxy
from localsvc.node.kubeapi.connectcommon import LiveObject
from localsvc.node.kubeapi.reads import Reads, json_response, with_type
from localsvc.node.kubeapi.scale import scale_of, scaled_replicas
from localsvc.node.kubeapi.writes import KubeWrites, WriteOptions, Written

log = logging.getLogger("localsvc.kubeapi")
# Paths the API server answers without a token (system:public-info-viewer).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})
NOT_FOUND_MESSAGE = "the server could not find the requested resource"
# A connect subresource's handler: the request, its parsed path and a lookup of the object the
# path names (connectcommon.LiveObject; the proxies, whose name segment is
# `[SCHEME:]NAME[:PORT]`, look theirs up themselves) in, any response out (a stream, a
# WebSocket, a proxied answer).
ConnectHandler = Callable[[Controller, web.Request, Target, LiveObject],
                          Awaitable[web.StreamResponse]]
# The "connect" subresources (logs, exec, attach, port-forward, proxy), each in its own module.
CONNECT_HANDLERS: dict[tuple[str, str], ConnectHandler] = {
    ("pods", "log"): podlogs.serve,
    ("pods", "exec"): podexec.serve_exec,
    ("pods", "attach"): podexec.serve_attach,
    ("pods", "portforward"): portforward.serve,
    ("pods", "proxy"): proxy.serve_pod,
    ("services", "proxy"): proxy.serve_service,
}


def is_kube_path(path: str) -> bool:
    """Whether `path` belongs to the Kubernetes API (its errors are metav1.Status objects)."""
    return path.startswith(("/api", "/openapi", "/version", "/livez", "/readyz"))


def status_response(status: dict[str, Any]) -> web.Response:
    return json_response(status, status=int(status.get("code", 500)))


class KubeApi:
    def __init__(self, controller: Controller):
        self.controller = controller
        self.reads = Reads(controller.objects)
        self.writes = KubeWrites(controller)

    def add_routes(self, app: web.Application) -> None:
        for path in ("/version", "/version/"):
            app.router.add_get(path, self.version)
        for path in ("/livez", "/readyz"):
            app.router.add_get(path, self.health)
        for path in ("/api", "/api/", "/apis", "/apis/"):
            app.router.add_get(path, self.discovery)
        app.router.add_get("/openapi/v2", self.openapi_v2)
        app.router.add_get("/openapi/v3", self.openapi_v3_index)
        app.router.add_get("/openapi/v3/{path:.+}", self.openapi_v3)
        app.router.add_route("*", "/api/{tail:.+}", self.resource)
        app.router.add_route("*", "/apis/{tail:.+}", self.resource)
        podlogs.add_engine_session(app)  # pods/NAME/log's, closed on cleanup

    # ---- discovery, OpenAPI, health -----------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return json_response(discovery.version_info())

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def discovery(self, request: web.Request) -> web.Response:
        legacy = request.path.rstrip("/") == "/api"
        answer = discovery.negotiate(request.headers.get("Accept"))
        if answer is None:
            return status_response(st.not_acceptable([discovery.JSON]))
        if answer.aggregated:
            body = discovery.aggregated_discovery(legacy, answer.version or "v2")
        elif legacy:
            node_ip = self.controller.ctx.config.node_ip
            body = discovery.api_versions(f"{node_ip}:{IN_CLUSTER_API_PORT}")
        else:
            body = discovery.api_group_list()
        return json_response(body, content_type=answer.content_type)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        return _openapi(openapi.answer_v2(request.headers.get("Accept"),
                                          request.headers.get("If-None-Match")))

    async def openapi_v3_index(self, request: web.Request) -> web.Response:
        return _openapi(openapi.answer_v3_index(request.headers.get("If-None-Match")))

    async def openapi_v3(self, request: web.Request) -> web.Response:
        return _openapi(openapi.answer_v3(
            request.match_info["path"], request.headers.get("Accept"),
            request.query.get("hash"), datetime.now(timezone.utc),
            request.headers.get("If-None-Match")))

    # ---- resources ----------------------------------------------------------------------------

    async def resource(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._resource(request)
        except ApiError as err:
            return status_response(err.status)
        except (asyncio.CancelledError, web.HTTPException):
            raise
        except Exception as err:  # a node bug: a Status that says so, not a bare 500
            log.exception("%s %s failed", request.method, request.path)
            return status_response(st.internal_error(
                f"the node failed to answer {request.method} {request.path}: "
                f"{type(err).__name__}: {err} (a bug in localsvc)"))

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        try:
            target = parse(request.path)
        except BadPath:
            raise ApiError(st.status(404, "NotFound", NOT_FOUND_MESSAGE)) from None
        if not target.resource:
            document = discovery.api_resource_list(target.group, target.version)
            if document is None or request.method != "GET":
                raise ApiError(st.status(404, "NotFound", NOT_FOUND_MESSAGE))
            return json_response(document)
        resource = by_path(target.group, target.version, target.resource)
        if resource is None or (target.namespace is not None and not resource.namespaced):
            raise ApiError(st.status(404, "NotFound", NOT_FOUND_MESSAGE))
        if target.subresource:
            return await self._subresource(request, resource, target)
        namespace = target.namespace
        method = request.method
        if target.name is None:
            if method == "GET":
                if request.query.get("watch") in ("true", "1"):
                    return await self.reads.watch(request, resource, namespace)
                return self.reads.list_objects(request, resource, namespace)
            if method == "POST":
                written = await self.writes.create(resource, namespace, await _json(request),
                                                   _write_options(request))
                return _written(written, resource)
            if method == "DELETE":
                return await self._delete_collection(request, resource, namespace)
            raise ApiError(st.method_not_supported(_group_resource(resource), method))
        name = target.name
        if method == "GET":
            if request.query.get("watch") in ("true", "1"):
                return await self.reads.watch(request, resource, namespace, name)
            return self.reads.get(request, resource,
                                  self.writes.existing(resource, namespace, name))
        if method == "PUT":
            written = await self.writes.update(resource, namespace, name, await _json(request),
                                               _write_options(request))
            return _written(written, resource)
        if method == "PATCH":
            written = await self.writes.patch(resource, namespace, name,
                                              request.headers.get("Content-Type", ""),
                                              await request.read(), _write_options(request))
            return _written(written, resource)
        if method == "DELETE":
            body = await _optional_json(request)
            grace, propagation, dry_run = _delete_options(request, body)
            gone = await self.writes.delete(resource, namespace, name, grace, propagation,
                                            dry_run)
            return json_response(gone if gone.get("kind") == "Status" else
                                 with_type(resource, gone))
        raise ApiError(st.method_not_supported(_group_resource(resource), method))

    async def _subresource(self, request: web.Request, resource: Resource,
                           target: Target) -> web.StreamResponse:
        name = target.name or ""
        sub = target.subresource
        if resource.subresource(sub.split("/", 1)[0]) is None:
            raise ApiError(st.status(404, "NotFound", NOT_FOUND_MESSAGE))
        connect = CONNECT_HANDLERS.get((resource.plural, sub.split("/", 1)[0]))
        if connect is not None:
            return await connect(self.controller, request, target,
                                 lambda: self.writes.existing(resource, target.namespace, name))
        live = self.writes.existing(resource, target.namespace, name)
        if sub == "status" and request.method == "GET":
            return json_response(with_type(resource, live))
        if sub == "scale" and request.method == "GET":
            return json_response(scale_of(live))
        if sub == "scale" and request.method in ("PUT", "PATCH"):
            replicas = scaled_replicas(live, request.method,
                                       request.headers.get("Content-Type", ""),
                                       await request.read())
            if not _write_options(request).dry_run and replicas is not None:
                try:
                    self.controller.scale(target.namespace or "", name, replicas, resource.kind)
                except Exception as err:  # the controller's limits, with its words
                    raise ApiError(st.invalid(resource.kind, resource.group, name, [
                        st.FieldError("FieldValueInvalid", "spec.replicas", replicas,
                                      detail=str(err))])) from None
                live = self.writes.existing(resource, target.namespace, name)
            return json_response(scale_of(live, replicas))
        raise ApiError(st.method_not_supported(_group_resource(resource),
                                               f"{request.method} {sub}"))

    async def _delete_collection(self, request: web.Request, resource: Resource,
                                 namespace: str | None) -> web.Response:
        from localsvc.node.kubeapi.reads import matcher

        body = await _optional_json(request)
        grace, propagation, dry_run = _delete_options(request, body)
        gone = []
        for obj in self.reads.objects(resource, namespace, matcher(resource, request.query)):
            meta = obj["metadata"]
            gone.append(await self.writes.delete(resource, meta.get("namespace"), meta["name"],
                                                 grace, propagation, dry_run))
        return json_response({"kind": resource.list_kind, "apiVersion": resource.api_version,
                              "metadata": {"resourceVersion": str(
                                  self.controller.objects.resource_version)},
                              "items": gone})


def _group_resource(resource: Resource) -> st.GroupResource:
    return st.GroupResource(resource.plural, resource.group)


def _openapi(answer: openapi.OpenAPIAnswer) -> web.Response:
    if answer.status == 404:
        return status_response(st.status(404, "NotFound", NOT_FOUND_MESSAGE))
    if answer.status == 406:
        return status_response(st.not_acceptable([openapi.JSON]))
    return web.Response(body=answer.body, status=answer.status, headers=answer.headers)


def _written(written: Written, resource: Resource) -> web.Response:
    headers = {"Warning": ", ".join(warning_value(w) for w in written.warnings)} \
        if written.warnings else None
    return json_response(with_type(resource, written.obj), status=201 if written.created else 200,
                         headers=headers)


def warning_value(text: str) -> str:
    """One Warning header value, RFC 7234: code 299, no agent, the text as a quoted string
    (quotes and backslashes escaped; kubectl drops a value it cannot parse)."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


async def _json(request: web.Request) -> Any:
    """The body of a create, update or delete: JSON, or the protobuf kubectl's typed clients send
    (`kubectl create configmap|secret|deployment|...`), decoded into the same JSON."""
    raw = await request.read()
    if is_protobuf(request.headers.get("Content-Type")):
        try:
            return decode_request(raw)
        except ProtobufError as err:
            raise ApiError(st.bad_request(f"the protobuf request body cannot be read: {err}")) \
                from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(st.bad_request(f"the request body is not valid JSON: {err}")) from None


async def _optional_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await _json(request)
    return body if isinstance(body, dict) else {}


def _write_options(request: web.Request) -> WriteOptions:
    query = request.query
    dry_run = query.getall("dryRun", [])
    if any(value != "All" for value in dry_run):
        raise ApiError(st.bad_request(f"dryRun: only All is supported, got {dry_run}"))
    return WriteOptions(dry_run=bool(dry_run),
                        field_validation=query.get("fieldValidation", "Strict") or "Strict",
                        field_manager=query.get("fieldManager", ""),
                        force=query.get("force") in ("true", "1"),
                        user_agent=request.headers.get("User-Agent", ""))


def _delete_options(request: web.Request, body: dict[str, Any]) -> tuple[int | None, str, bool]:
    """gracePeriodSeconds, propagationPolicy and dryRun, from the query or a DeleteOptions
    body (kubectl sends the body)."""
    query = request.query
    grace_text = query.get("gracePeriodSeconds")
    grace = body.get("gracePeriodSeconds") if grace_text is None else grace_text
    try:
        grace_seconds = None if grace is None else max(0, int(grace))
    except (TypeError, ValueError):
        raise ApiError(st.bad_request(f"gracePeriodSeconds must be a number, got {grace!r}"))
    propagation = str(query.get("propagationPolicy") or body.get("propagationPolicy") or "")
    dry_run = bool(query.getall("dryRun", []) or body.get("dryRun"))
    return grace_seconds, propagation, dry_run


__all__ = ["KubeApi", "PUBLIC_PATHS", "is_kube_path", "status_response"]
