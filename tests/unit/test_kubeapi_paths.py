"""Request paths of the Kubernetes API, read as the API server reads them."""

from __future__ import annotations

import pytest

from localsvc.model.kubeapi.paths import BadPath, Target, parse


@pytest.mark.parametrize(("path", "target"), [
    ("/api/v1", Target("", "v1")),
    ("/apis/apps/v1", Target("apps", "v1")),
    ("/api/v1/pods", Target("", "v1", "pods")),
    ("/api/v1/namespaces", Target("", "v1", "namespaces")),
    ("/api/v1/namespaces/web", Target("", "v1", "namespaces", None, "web")),
    ("/api/v1/namespaces/web/status", Target("", "v1", "namespaces", None, "web", "status")),
    ("/api/v1/namespaces/web/pods", Target("", "v1", "pods", "web")),
    ("/api/v1/namespaces/web/pods/p", Target("", "v1", "pods", "web", "p")),
    ("/api/v1/namespaces/web/pods/p/log", Target("", "v1", "pods", "web", "p", "log")),
    ("/api/v1/namespaces/web/services/s:http/proxy/a/b",
     Target("", "v1", "services", "web", "s:http", "proxy/a/b")),
    ("/apis/apps/v1/namespaces/d/deployments/x/scale",
     Target("apps", "v1", "deployments", "d", "x", "scale")),
    ("/api/v1/nodes/n", Target("", "v1", "nodes", None, "n")),
    # A resource named like a namespace subresource, inside a namespace: still the resource.
    ("/api/v1/namespaces/web/status/x", Target("", "v1", "status", "web", "x")),
])
def test_paths(path: str, target: Target) -> None:
    assert parse(path) == target


@pytest.mark.parametrize("path", ["/", "/api", "/apis/apps", "/v1/objects", "/healthz"])
def test_not_resource_paths(path: str) -> None:
    with pytest.raises(BadPath):
        parse(path)


def test_group_version() -> None:
    assert parse("/apis/apps/v1/deployments").group_version == "apps/v1"
    assert parse("/api/v1/pods").group_version == "v1"
