"""The ingress controller's life: a changed Ingress served within seconds by a reload that does
not drop a request in flight, no reload for unrelated changes, adoption by a restarted node, a
second environment falling back to free ports (and saying so), the controller removed with
the last Ingress."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localsvc.errors import LocalsvcError
from localsvc.host.api import Environment
from localsvc.node import ingressctl
from tests.integration.conftest import free_port, localsvc, unique_env, wait_for
from tests.integration.ingress_support import (
    answered,
    backend_env,  # noqa: F401  (the module's environment)
    controller_ports,
    get,
    served_by,
)

ROUTES = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: live}}
spec:
  rules:
  - host: live.localhost
    http:
      paths:
      - {{path: /slow, pathType: Prefix, backend: {{service: {{name: slow, port: {{number: 80}}}}}}}}
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
{extra}"""
NEW_PATH = ("      - {path: /new, pathType: Exact, backend: {service: {name: api, port: "
            "{number: 8080}}}}\n")


def controller(env: Environment) -> Any:
    filters = {"label": [f"io.localsvc.env={env.name}", "io.localsvc.role=ingress"]}
    try:
        found = env.docker.containers.list(all=True, filters=filters)
    except docker.errors.NotFound:  # removed between the SDK's list and its inspect: gone
        found = env.docker.containers.list(all=True, filters=filters)
    return found[0] if found else None


def reloads(env: Environment) -> int:
    """How many configurations HAProxy's master loaded (the first start counts one)."""
    logs = controller(env).logs().decode(errors="replace")
    return logs.count("Loading success.")


def apply(env: Environment, tmp_path: Path, text: str) -> None:
    path = tmp_path / f"m{time.monotonic_ns()}.yaml"
    path.write_text(text)
    env.apply([path])


def test_a_new_path_is_served_within_seconds_and_a_request_in_flight_finishes(
        backend_env: Environment, tmp_path: Path) -> None:
    env = backend_env
    apply(env, tmp_path, ROUTES.format(extra=""))
    http_port, _ = controller_ports(env)
    wait_for(lambda: answered(lambda: get(http_port, "live.localhost", "/slow/0")) == "slow",
             timeout=20, what="the first configuration")
    started = controller(env).attrs["State"]["StartedAt"]
    loaded = reloads(env)
    result: dict[str, Any] = {}

    def long_request() -> None:
        try:
            result["answer"] = get(http_port, "live.localhost", "/slow/4", timeout=20)
        except Exception as err:  # reported by the assertion below
            result["answer"] = repr(err)

    thread = threading.Thread(target=long_request, daemon=True)
    thread.start()
    time.sleep(0.5)  # the request is in the old worker now
    changed_at = time.monotonic()
    apply(env, tmp_path, ROUTES.format(extra=NEW_PATH))
    wait_for(lambda: served_by(get(http_port, "live.localhost", "/new")) == "api", timeout=5,
             interval=0.1, what="the new path")
    assert time.monotonic() - changed_at < 5
    assert served_by(get(http_port, "live.localhost", "/new/x")) == "web"  # Exact
    thread.join(20)
    assert result.get("answer") == (200, "slow done\n")
    assert reloads(env) == loaded + 1  # reloaded once, not restarted
    assert controller(env).attrs["State"]["StartedAt"] == started
    # A change no Ingress depends on reloads nothing.
    apply(env, tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated}\n"
                         "data: {a: b}\n")
    time.sleep(3)
    assert reloads(env) == loaded + 1


def test_a_restarted_node_adopts_the_controller_without_reloading(
        backend_env: Environment) -> None:
    env = backend_env
    http_port, _ = controller_ports(env)
    before = controller(env)
    loaded = reloads(env)
    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    ports = wait_for(lambda: _ports_or_none(env), timeout=30, what="the node back")
    assert ports[0] == http_port
    assert controller(env).id == before.id
    assert served_by(get(http_port, "live.localhost", "/")) == "web"
    time.sleep(2.5)  # a periodic pass has compared the files
    assert reloads(env) == loaded


def _ports_or_none(env: Environment) -> Any:
    try:
        return (env.node().get("/v1/status") or {}).get("ingress", {}).get("ports")
    except Exception:  # the node is restarting
        return None


def test_a_configuration_haproxy_refuses_is_never_put_in_place(backend_env: Environment) -> None:
    """What the node does when HAProxy says no (a bug, or a certificate its OpenSSL rejects):
    the live files stay, the running configuration keeps serving, and so does a restart."""
    env = backend_env
    http_port, _ = controller_ports(env)
    container = controller(env)
    before = ingressctl.current_digest(container)
    loaded = reloads(env)
    error = ingressctl.configure(container, {"haproxy.cfg": b"frontend broken\n    bind :80\n"
                                                          b"    use_backend nowhere\n"})
    assert error is not None and error.startswith("HAProxy refused the generated configuration")
    assert ingressctl.current_digest(container) == before
    assert reloads(env) == loaded
    assert served_by(get(http_port, "live.localhost", "/")) == "web"
    container.restart(timeout=10)
    wait_for(lambda: answered(lambda: get(http_port, "live.localhost", "/")) == "web",
             timeout=20, what="the restarted controller serving its live files")


INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: one}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
"""


def test_a_second_environment_falls_back_to_free_ports_and_says_so(
        backend_env: Environment, node_image: str, tmp_path: Path) -> None:
    first = backend_env
    taken_http, taken_https = controller_ports(first)
    second = Environment(unique_env("ing"), node_image=node_image)
    manifest = tmp_path / "one.yaml"
    manifest.write_text(INGRESS)
    try:
        up = localsvc(second, "up", "-d", "--wait", "60", "-f", str(manifest),
                      "--ingress-http-port", str(taken_http),
                      "--ingress-https-port", str(taken_https))
        assert "ingress controller: serving HTTP on port" in up.stderr
        assert (f"127.0.0.1:{taken_http} and 127.0.0.1:{taken_https} not available: another "
                "container (another environment?) publishes it") in up.stderr
        http_port, https_port = controller_ports(second)
        assert taken_http not in (http_port, https_port)
        assert taken_https not in (http_port, https_port)
        status = second.get("ingress", "one")[0]["status"]["loadBalancer"]["ingress"][0]
        assert status["ports"] == [{"port": http_port, "protocol": "TCP"},
                                   {"port": https_port, "protocol": "TCP"}]
        url = localsvc(second, "url", "ingress/one")
        assert url.stdout.strip() == f"http://127.0.0.1:{http_port}/"
        assert "not available" in url.stderr
        # Both environments serve, each its own (the second has no Service web: 503).
        assert get(http_port, "any.localhost")[0] == 503
        assert served_by(get(taken_http, "live.localhost")) == "web"
        # The last Ingress gone, the controller goes (and frees its ports).
        localsvc(second, "delete", "ingress", "one")
        wait_for(lambda: controller(second) is None, timeout=15, what="the controller removed")
    finally:
        second.down()
    assert controller(second) is None


def test_default_ports_80_and_443_and_a_second_environment_falls_back(
        node_image: str, demo_image: str, tmp_path: Path) -> None:
    """With nothing configured the first environment takes 127.0.0.1:80/443 (unless something
    on this machine holds them: then it says why), the second one falls back."""
    first = Environment(unique_env("ing"), node_image=node_image)
    second = Environment(unique_env("ing"), node_image=node_image)
    manifest = tmp_path / "one.yaml"
    manifest.write_text(INGRESS.replace("web", "nothing"))
    try:
        first.up([manifest], wait=30)
        one = wait_for(lambda: _summary_with_ports(first), timeout=30, what="the controller")
        assert one["wantedPorts"] == [80, 443]
        if one["ports"] != [80, 443]:  # held by someone else here, or not allowed
            assert "not available:" in one["note"], one
        second.up([manifest], wait=30)
        two = wait_for(lambda: _summary_with_ports(second), timeout=30, what="the controller")
        assert not set(two["ports"]) & set(one["ports"])
        if one["ports"] == [80, 443]:
            assert two["note"] == ("127.0.0.1:80 and 127.0.0.1:443 not available: another "
                                   "container (another environment?) publishes it")
        for summary in (one, two):  # each answers on its own port (no Service: 503)
            port = summary["ports"][0]
            wait_for(lambda: answered(lambda: get(port, "x.localhost")).startswith("503"),
                     timeout=15, what=f"the controller on port {port}")
    finally:
        first.down()
        second.down()


def _summary_with_ports(env: Environment) -> Any:
    summary = (env.node().get("/v1/status") or {}).get("ingress") or {}
    return summary if summary.get("ports") else None


def test_bad_port_settings_are_refused_before_anything_is_created(node_image: str) -> None:
    with pytest.raises(LocalsvcError, match="--ingress-http-port must be a port number"):
        Environment(unique_env("ing"), node_image=node_image, ingress_ports=(70000, None))


def test_localsvc_yaml_sets_the_ports(node_image: str, demo_image: str, tmp_path: Path) -> None:
    env = Environment(unique_env("ing"), node_image=node_image)
    http, https = free_port(40000, 49000), free_port(40000, 49000)
    while https == http:
        https = free_port(40000, 49000)
    (tmp_path / "one.yaml").write_text(INGRESS)
    (tmp_path / "localsvc.yaml").write_text(
        f"manifests: [one.yaml]\ningressHttpPort: {http}\ningressHttpsPort: {https}\n")
    try:
        localsvc(env, "up", "-d", "--wait", "60", cwd=tmp_path)
        assert controller_ports(env) == (http, https)
    finally:
        env.down()
