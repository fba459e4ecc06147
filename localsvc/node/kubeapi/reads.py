"""get, list and watch of the Kubernetes API, answered from the node's object store.

A list is consistent at the store's resourceVersion (one read on the event loop), filtered by
namespace and by label and field selectors, paged with limit/continue, and answered as a
`<Kind>List` or, when kubectl asks for one, a meta.k8s.io Table. A watch streams one JSON event
per line (node/kubeapi/watch.py decides which), as Tables for `kubectl get -w`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from localsvc.errors import LocalsvcError
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.events import EVENTS_V1_GROUP, as_events_v1
from localsvc.model.kubeapi.fieldselect import FieldSelectorError, compile_selector
from localsvc.model.kubeapi.listing import ListError, list_body, paginate
from localsvc.model.kubeapi.resources import Resource
from localsvc.model.kubeapi.tables import TableRequest, table, table_request
from localsvc.model.labelselector import parse_selector
from localsvc.node.kubeapi.watch import ApiWatch, FellBehind, WatchFilter
from localsvc.node.longstreams import track_stream
from localsvc.node.objectstore import ObjectStore, TooOld

Obj = dict[str, Any]
JSON_TYPE = "application/json"


def json_response(body: Any, status: int = 200, content_type: str = JSON_TYPE,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        headers={"Content-Type": content_type, **(headers or {})})


def matcher(resource: Resource, query: Any) -> Callable[[Obj], bool]:
    """The labelSelector and fieldSelector of a request, as one predicate; 400 when malformed."""
    try:
        labels = parse_selector(query.get("labelSelector", ""))
        fields = compile_selector(resource.kind, query.get("fieldSelector", ""))
    except (LocalsvcError, FieldSelectorError) as err:
        raise ApiError(st.bad_request(str(err))) from None

    def matches(obj: Obj) -> bool:
        return labels.matches((obj.get("metadata") or {}).get("labels") or {}) and fields(obj)
    return matches


class Reads:
    def __init__(self, store: ObjectStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def objects(self, resource: Resource, namespace: str | None,
                matches: Callable[[Obj], bool]) -> list[Obj]:
        scope = WatchFilter(resource.kind, namespace if resource.namespaced else None, matches,
                            resource.api_version)
        found = list(scope.current(self.store).values())
        if resource.group == EVENTS_V1_GROUP:
            return [as_events_v1(obj) for obj in found]
        return found

    def get(self, request: web.Request, resource: Resource, obj: Obj) -> web.Response:
        wanted = table_request(request.headers.get("Accept", ""))
        if wanted is not None:
            return self._table(request, resource, [obj], wanted,
                               str(obj["metadata"].get("resourceVersion", "")))
        return json_response(with_type(resource, obj))

    def list_objects(self, request: web.Request, resource: Resource,
             namespace: str | None) -> web.Response:
        query = request.query
        matches = matcher(resource, query)
        objects = self.objects(resource, namespace, matches)
        try:
            limit = int(query.get("limit", "0") or 0)
        except ValueError:
            raise ApiError(st.bad_request(f"limit must be a number, got {query['limit']!r}"))
        try:
            page = paginate(objects, limit=limit, continue_token=query.get("continue", ""),
                            resource_version=self.store.resource_version,
                            oldest_version=self.store.oldest_version,
                            within_namespace=namespace is not None,
                            selective=bool(query.get("labelSelector") or
                                           query.get("fieldSelector")))
        except ListError as err:
            raise ApiError(err.status) from None
        wanted = table_request(request.headers.get("Accept", ""))
        if wanted is not None:
            return self._table(request, resource, page.items, wanted, page.resource_version,
                               page.continue_token, page.remaining_item_count)
        return json_response(list_body(resource.kind, resource.api_version, page))

    def _table(self, request: web.Request, resource: Resource, objects: list[Obj],
               wanted: TableRequest, resource_version: str, continue_token: str = "",
               remaining: int | None = None) -> web.Response:
        body = table(resource.kind, objects, self.clock(),
                     request.query.get("includeObject", "Metadata"), resource_version,
                     continue_token=continue_token, remaining_item_count=remaining,
                     version=wanted.version)
        return json_response(body, content_type=wanted.content_type)

    async def watch(self, request: web.Request, resource: Resource,
                    namespace: str | None, name: str | None = None) -> web.StreamResponse:
        track_stream(request)  # the node's shutdown ends it
        query = request.query
        selected = matcher(resource, query)
        matches = selected if name is None else (
            lambda obj: obj["metadata"].get("name") == name and selected(obj))
        since_text = query.get("resourceVersion", "")
        if since_text in ("", "0"):
            since = None
        elif since_text.isdigit():
            since = int(since_text)
        else:
            raise ApiError(st.bad_request(f"invalid resource version: {since_text!r}"))
        scope = WatchFilter(resource.kind, namespace if resource.namespaced else None, matches,
                            resource.api_version)
        wanted = table_request(request.headers.get("Accept", ""))
        response = web.StreamResponse(headers={"Content-Type": JSON_TYPE,
                                               "Transfer-Encoding": "chunked"})
        try:
            watch = ApiWatch(self.store, scope, since,
                             bookmarks=query.get("allowWatchBookmarks") in ("true", "1"))
        except TooOld as err:
            # As the API server: 200, then one ERROR event with the 410 Status.
            await response.prepare(request)
            await _send(response, "ERROR", st.gone(err.asked, err.oldest))
            return response
        timeout = _seconds(query.get("timeoutSeconds"))
        await response.prepare(request)
        first = True
        try:
            async with asyncio.timeout(timeout):
                async for kind, obj in watch.events():
                    if wanted is not None and kind != "BOOKMARK" and kind != "ERROR":
                        obj = table(resource.kind, [obj], self.clock(),
                                    query.get("includeObject", "Metadata"),
                                    str(obj["metadata"].get("resourceVersion", "")),
                                    version=wanted.version, no_headers=not first)
                        first = False
                    else:
                        obj = with_type(resource, obj)
                    await _send(response, kind, obj)
        except FellBehind:
            pass  # the client resumes from its last version, or lists again
        except (ConnectionResetError, TimeoutError):  # the client went; timeoutSeconds passed
            pass
        finally:
            watch.close()
        return response


def with_type(resource: Resource, obj: Obj) -> Obj:
    """The object with its kind and apiVersion, as a get or a watch event carries them."""
    if resource.group == EVENTS_V1_GROUP and obj.get("apiVersion") != resource.api_version:
        return as_events_v1(obj)
    if obj.get("kind") == resource.kind and obj.get("apiVersion") == resource.api_version:
        return obj
    return {**obj, "kind": resource.kind, "apiVersion": resource.api_version}


async def _send(response: web.StreamResponse, kind: str, obj: Obj) -> None:
    line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
    await response.write(line.encode())


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ApiError(st.bad_request(f"timeoutSeconds must be a number, got {text!r}"))
    return value if value > 0 else None


__all__ = ["Reads", "json_response", "matcher", "with_type"]
