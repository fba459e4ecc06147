"""Issue 10, cases 1, 4, 5 and 10: bad input is rejected or quarantined with a clear message,
and the environment keeps serving."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from localsvc.errors import LocalsvcError
from localsvc.runtime import environment as envrt
from tests.faults.conftest import Cluster, cli, unique_env, wait_for

BAD_ENDPOINTS = """
apiVersion: v1
kind: Service
metadata: {name: raw}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: raw}
subsets:
- addresses: [{ip: "fd00::1%x"}]
  ports: [{port: 80}]
"""


def test_case01_bad_endpoints_rejected_and_node_restart_does_not_crash_loop(
        fault: Cluster, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "raw.yaml"
    path.write_text(BAD_ENDPOINTS)
    result = cli(fault.env, "apply", "-f", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "raw.yaml:12" in result.stderr and "subsets[0].addresses[0].ip" in result.stderr
    assert "Endpoints/default/raw" not in fault.keys()
    # Straight to the node's API, past the host's validation: rejected or stored and skipped,
    # and the node must not crash-loop on its stored state after a restart.
    manifests = [{"obj": doc, "file": "raw.yaml", "line": 1, "lines": {}}
                 for doc in yaml.safe_load_all(BAD_ENDPOINTS)]
    try:
        fault.env.node().post("/v1/apply", {"manifests": manifests, "prune": False})
    except LocalsvcError:
        pass
    restarts = fault.node_restarts()
    fault.restart_node()
    time.sleep(5)  # a crash-looping node restarts within this
    assert fault.node().status == "running"
    assert fault.node_restarts() == restarts
    fault.env.delete_objects("svc", ["raw"])
    if "Endpoints/default/raw" in fault.keys():
        fault.env.delete_objects("ep", ["raw"])


def test_case04_no_call_to_the_node_goes_through_an_http_proxy(fault: Cluster) -> None:
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(16)
    proxy.settimeout(0.5)
    url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    try:
        settings = {name: url for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY",
                                           "https_proxy", "ALL_PROXY", "all_proxy")}
        result = cli(fault.env, "get", "pods", extra_env=settings, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "watcher" in result.stdout
        with pytest.raises(socket.timeout):
            connection, _ = proxy.accept()
            connection.close()
    finally:
        proxy.close()


BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_case05_alias_bomb_is_rejected_fast(fault: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    began = time.monotonic()
    result = cli(fault.env, "apply", "-f", str(path), timeout=30)
    elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bomb.yaml:" in result.stderr
    # The issue asks for an answer within a second; the CLI's own start-up on a busy 2-core
    # machine is counted here too.
    assert elapsed < 5, f"apply of the alias bomb took {elapsed:.1f} s"


def test_case10_replicas_over_the_limit_rejected(fault: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text((fault.base / "backend.yaml").read_text().replace("replicas: 2",
                                                                      "replicas: 100000"))
    result = cli(fault.env, "apply", "-f", str(path), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "many.yaml:" in result.stderr and "spec.replicas" in result.stderr
    assert len(fault.env.get("pods", namespace=None)) == 3  # nothing changed


def test_case10_corrupt_state_file_is_quarantined(node_image: str, tmp_path: Path) -> None:
    env = Environment(unique_env("q"), node_image=node_image)
    try:
        config = tmp_path / "cm.yaml"
        config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n")
        env.up([config], wait=60)
        node = env.docker.containers.get(envrt.node_name(env.name))
        assert node.exec_run(["sh", "-c", "echo '{\"version\": 1, \"objects\": [' > "
                              f"{envrt.STATE_DIR}/state.json"]).exit_code == 0
        node.restart(timeout=5)
        envrt.wait_healthy(env.docker, env.name, timeout=60)
        time.sleep(5)  # a crash-looping node restarts within this
        node.reload()
        assert node.status == "running" and node.attrs["RestartCount"] == 0
        listing = node.exec_run(["ls", envrt.STATE_DIR]).output.decode()
        assert "state.json.corrupt-" in listing, listing
        logs = node.logs(tail=200).decode(errors="replace")
        assert "state.json.corrupt-" in logs
        # Usable again: apply works.
        env._node = None
        env.up([config], wait=60)
        wait_for(lambda: env.get("cm", "c"), timeout=10)
    finally:
        env.down()
