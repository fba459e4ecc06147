"""The node on the ClusterIP path, seen from pods: its veth's offloads in kernel mode and a pod
reaching its own Service (hairpin). Real engine, real packets; both dataplanes (the `env` and
`app` fixtures of test_services.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from localsvc.host.api import Environment
from localsvc.runtime.environment import node_name
from tests.integration.conftest import write
from tests.integration.test_services import app, backend, env, fetch_many, service

__all__ = ["app", "env"]  # fixtures, used by name


def test_node_interface_has_gro_on_in_kernel_mode(app: Environment) -> None:
    """The nftables node turns GRO on on its veth (net/nic.py); the userspace one leaves
    Docker's default, whatever it is."""
    node = app.docker.containers.get(node_name(app.name))
    result = node.exec_run(["python3", "-c",
                            "from localsvc.net.nic import gro_enabled; print(gro_enabled('eth0'))"])
    assert result.exit_code == 0, result.output
    assert result.output.decode().strip() in (("True",) if app.proxy_mode == "nftables"
                                              else ("True", "False"))
    assert fetch_many(app, "http://web/", 3)  # and ClusterIP traffic flows through it


def test_a_pod_reaches_its_own_service(env: Environment, tmp_path: Path) -> None:
    """Hairpin: the only endpoint of a Service is the client itself (the node's masquerade
    makes the reply come back through the node, as it must)."""
    env.up([write(tmp_path, "solo.yaml", "\n---".join([backend("solo", replicas=1),
                                                       service("solo", "solo")]))], wait=120)
    pod = next(p["metadata"]["name"] for p in env.get("pods")
               if p["metadata"]["name"].startswith("solo-"))
    assert fetch_many(env, "http://solo/", 3, pod=pod) == Counter({pod: 3})
