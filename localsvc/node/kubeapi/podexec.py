"""Placeholder of the podexec subresource handler, replaced by its implementation."""

from __future__ import annotations

from aiohttp import web

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import Target
from localsvc.node.controller import Controller


async def serve_exec(controller: Controller, request: web.Request,
                    target: Target) -> web.StreamResponse:
    raise ApiError(st.status(501, "NotImplemented", "not served yet"))


async def serve_attach(controller: Controller, request: web.Request,
                      target: Target) -> web.StreamResponse:
    raise ApiError(st.status(501, "NotImplemented", "not served yet"))
