"""PersistentVolumeClaims against the real engine: bound to a Docker volume labelled with the
environment, shown by `localsvc get` and kubectl, their data kept by `down` and found again by
the next `up`, removed by `down --volumes` and by deleting the claim, refused updates in the API
server's words, and nothing left by environments the pytest plugin owns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from localsvc.host.api import Environment
from localsvc.runtime import labels as L
from localsvc.runtime.claims import claim_volume_name
from tests.integration.conftest import DEMO_IMAGE, labelled, localsvc, unique_env, wait_for, write
from tests.integration.kubectl_support import Kubectl, write_kubeconfig

pytest_plugins = ["pytester"]
NOTHING = {"containers": 0, "networks": 0, "volumes": 0}


def claim(name: str = "data", size: str = "1Gi", extra: str = "") -> str:
    return f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}
{extra}"""


CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
"""


def bound(env: Environment, name: str = "data") -> dict[str, Any]:
    def phase() -> dict[str, Any] | None:
        found = env.get("pvc", name)
        return found[0] if found and found[0].get("status", {}).get("phase") == "Bound" else None
    result: dict[str, Any] = wait_for(phase, timeout=30, what=f"claim {name} Bound")
    return result


def volume_data(client: docker.DockerClient, volume: str, command: str) -> str:
    """Run `command` in a throw-away container of the demo image with `volume` at /data."""
    out = client.containers.run(DEMO_IMAGE, [command], entrypoint=["sh", "-c"], remove=True,
                                volumes={volume: {"bind": "/data", "mode": "rw"}})
    return bytes(out).decode()


def volume_names(client: docker.DockerClient, env: str) -> list[str]:
    return sorted(v.name for v in client.volumes.list(filters={"label": [f"{L.ENV}={env}"]}))


def test_a_claim_is_bound_to_a_labelled_docker_volume_shown_by_get_and_kubectl(
        env: Environment, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    localsvc(env, "up", "-d", "-f", str(write(tmp_path, "claim.yaml", claim())))
    served = bound(env)
    uid = served["metadata"]["uid"]
    assert served["spec"]["volumeName"] == f"pvc-{uid}"
    assert served["status"]["capacity"] == {"storage": "1Gi"}
    volume = docker_client.volumes.get(claim_volume_name(env.name, "default", "data"))
    assert volume.attrs["Labels"][L.ENV] == env.name
    assert volume.attrs["Labels"][L.ROLE] == L.ROLE_CLAIM_VOLUME
    [pv] = env.get("pv", None, None)
    assert pv["metadata"]["name"] == f"pvc-{uid}"
    assert pv["spec"]["hostPath"]["path"] == volume.attrs["Mountpoint"]
    assert pv["metadata"]["annotations"]["localsvc.io/docker-volume"] == volume.name

    pvc_table = localsvc(env, "get", "pvc").stdout.splitlines()
    assert pvc_table[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES",
                                    "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert pvc_table[1].split()[:7] == ["data", "Bound", f"pvc-{uid}", "1Gi", "RWO",
                                        "standard", "<unset>"]
    pv_line = localsvc(env, "get", "pv").stdout.splitlines()[1].split()
    assert pv_line[:7] == [f"pvc-{uid}", "1Gi", "RWO", "Delete", "Bound", "default/data",
                           "standard"]

    kubectl = Kubectl(env, write_kubeconfig(env, tmp_path / "kube"))
    assert kubectl.out("get", "pvc", "data").splitlines()[1].split()[:7] == pvc_table[1].split()[:7]
    assert kubectl.out("get", "pv").splitlines()[1].split()[:7] == pv_line[:7]
    sc = kubectl.out("get", "sc").splitlines()
    assert sc[1].split()[:6] == ["standard", "(default)", "localsvc.io/docker-volume", "Delete",
                                 "Immediate", "true"]
    events = kubectl.json("get", "events", "--field-selector",
                          "involvedObject.kind=PersistentVolumeClaim")["items"]
    assert [e["reason"] for e in events] == ["ProvisioningSucceeded"]

    # The API server's update rules: a request may grow, the rest of the spec is immutable.
    grown = write(tmp_path, "grown.yaml", claim(size="2Gi"))
    kubectl.run("apply", "-f", str(grown))
    wait_for(lambda: env.get("pvc", "data")[0]["status"]["capacity"] == {"storage": "2Gi"},
             timeout=10, what="the capacity of the grown claim")
    changed = write(tmp_path, "changed.yaml", claim(size="2Gi").replace(
        "ReadWriteOnce", "ReadWriteMany"))
    refused = kubectl.run("apply", "-f", str(changed), check=False)
    assert refused.returncode != 0
    assert "spec: Forbidden: spec is immutable after creation except resources.requests" in \
        refused.stderr
    shrunk = localsvc(env, "apply", "-f", str(write(tmp_path, "small.yaml", claim(size="1Gi"))),
                      check=False)
    assert shrunk.returncode != 0
    assert "small.yaml:6: PersistentVolumeClaim/data: spec.resources.requests.storage" in \
        shrunk.stderr + shrunk.stdout
    assert "field can not be less than previous value" in shrunk.stderr + shrunk.stdout


def test_a_restarted_node_serves_the_same_binding_and_makes_no_second_volume(
        env: Environment, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    localsvc(env, "up", "-d", "-f", str(write(tmp_path, "claim.yaml", claim())))
    before = bound(env)
    volumes = volume_names(docker_client, env.name)
    docker_client.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    after = bound(env)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"]["volumeName"] == before["spec"]["volumeName"]
    assert [pv["metadata"]["name"] for pv in env.get("pv", None, None)] == [
        before["spec"]["volumeName"]]
    assert volume_names(docker_client, env.name) == volumes


def test_data_is_kept_by_down_found_again_by_up_and_removed_by_down_volumes(
        env: Environment, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    manifest = str(write(tmp_path, "claim.yaml", claim()))
    localsvc(env, "up", "-d", "-f", manifest)
    first_uid = bound(env)["metadata"]["uid"]
    volume = claim_volume_name(env.name, "default", "data")
    volume_data(docker_client, volume, "echo kept > /data/file")

    down = localsvc(env, "down")
    assert f"kept 1 volume with the data of PersistentVolumeClaims" in down.stdout
    assert f"  {volume}\n" in down.stdout
    assert f"localsvc down --env {env.name} --volumes" in down.stdout
    assert volume_names(docker_client, env.name) == [volume]
    assert labelled(docker_client, env.name) == {"containers": 0, "networks": 0, "volumes": 1}
    assert env.name not in localsvc(env, "ls", check=False).stdout  # data alone is no env
    pruned = localsvc(env, "prune", "--min-age", "0", env.name)  # nor a crashed one's left-over
    assert env.name not in pruned.stdout and volume_names(docker_client, env.name) == [volume]

    localsvc(env, "up", "-d", "-f", manifest)
    again = bound(env)
    assert again["metadata"]["uid"] != first_uid  # a new claim object, the same data
    assert volume_data(docker_client, volume, "cat /data/file") == "kept\n"
    events = [e for e in env.get("events", namespace="default")
              if e.get("reason") == "ProvisioningSucceeded"]
    assert any(f"the existing Docker volume {volume}" in e["message"] for e in events), events

    # `up` without the claim (pruned, not deleted): the data stays, as compose keeps a volume.
    localsvc(env, "up", "-d", "-f", str(write(tmp_path, "other.yaml", CONFIG)))
    wait_for(lambda: env.get("pvc", namespace="default") == [], timeout=10, what="pruned claim")
    assert volume in volume_names(docker_client, env.name)

    localsvc(env, "down", "-v")
    assert labelled(docker_client, env.name) == NOTHING


def test_deleting_a_claim_deletes_its_volume(env: Environment, tmp_path: Path,
                                             docker_client: docker.DockerClient) -> None:
    localsvc(env, "up", "-d", "-f", str(write(tmp_path, "claims.yaml", claim() + "---\n"
                                              + claim("other"))))
    bound(env)
    bound(env, "other")
    volume = claim_volume_name(env.name, "default", "data")
    volume_data(docker_client, volume, "echo old > /data/file")
    localsvc(env, "delete", "pvc", "data")
    wait_for(lambda: volume not in volume_names(docker_client, env.name), timeout=20,
             what="the deleted claim's volume removed")
    assert env.get("pv", None, None)[0]["spec"]["claimRef"]["name"] == "other"
    # Created again, the claim gets a new, empty volume.
    localsvc(env, "apply", "-f", str(write(tmp_path, "again.yaml", claim())))
    bound(env)
    assert volume_data(docker_client, volume, "ls /data") == ""


def test_a_claim_of_an_unknown_class_stays_pending_and_says_why(
        env: Environment, tmp_path: Path) -> None:
    localsvc(env, "up", "-d", "-f", str(write(tmp_path, "claim.yaml", claim(
        extra="  storageClassName: fast\n"))))

    def event() -> dict[str, Any] | None:
        found = [e for e in env.get("events", namespace="default")
                 if e.get("reason") == "ProvisioningFailed"]
        return found[0] if found else None
    failed = wait_for(event, timeout=15, what="the ProvisioningFailed event")
    assert failed["type"] == "Warning"
    assert failed["message"] == 'storageclass.storage.k8s.io "fast" not found'
    assert env.get("pvc", "data")[0]["status"]["phase"] == "Pending"
    assert env.get("pv", None, None) == []
    block = localsvc(env, "apply", "-f", str(write(tmp_path, "block.yaml", claim(
        "raw", extra="  volumeMode: Block\n"))), check=False)
    assert block.returncode != 0 and "filesystem volumes only" in block.stderr + block.stdout


PLUGIN_TEST = """
import os, pathlib

def test_claim(localsvc_env):
    pathlib.Path(os.environ["ENV_FILE"]).write_text(localsvc_env.name)
    import time
    deadline = time.monotonic() + 30
    while localsvc_env.get("pvc", "data")[0].get("status", {}).get("phase") != "Bound":
        assert time.monotonic() < deadline
        time.sleep(0.2)
"""


def test_environments_of_the_pytest_plugin_leave_no_volume(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, node_image: str,
        demo_image: str, docker_client: docker.DockerClient) -> None:
    (pytester.path / "k8s").mkdir()
    (pytester.path / "k8s" / "claim.yaml").write_text(claim())
    pytester.makeini("[pytest]\nlocalsvc_manifests = k8s/\nlocalsvc_wait = 60\n")
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    monkeypatch.setenv("ENV_FILE", str(pytester.path / "env"))
    pytester.makepyfile(test_claim=PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=240)
    name = (pytester.path / "env").read_text() if (pytester.path / "env").exists() else ""
    try:
        result.assert_outcomes(passed=1)
        assert labelled(docker_client, name) == NOTHING
    finally:
        if name:
            Environment(name).down(volumes=True)  # (only when the plugin did not)


def test_ctrl_c_of_a_foreground_up_keeps_the_claims_data_and_says_so(
        node_image: str, demo_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        docker_client: docker.DockerClient) -> None:
    from tests.integration.test_devloop import Foreground

    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    name = unique_env("fg")
    write(tmp_path, "claim.yaml", claim())
    try:
        up = Foreground(name, tmp_path, "-f", "claim.yaml", "--no-watch")
        up.wait_err("Ctrl-C stops it")
        bound(Environment(name))
        assert up.stop() == 0
        volume = claim_volume_name(name, "default", "data")
        assert "stopped cleanly; kept 1 volume with the data of PersistentVolumeClaims" in \
            up.stderr() and f"  {volume}\n" in up.stderr()  # the words of `down`
        assert volume_names(docker_client, name) == [volume]
    finally:
        Environment(name).down(volumes=True)
    assert labelled(docker_client, name) == NOTHING


def test_the_reaper_removes_the_claims_data_of_a_killed_plugin_session(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, node_image: str,
        demo_image: str, docker_client: docker.DockerClient) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    (pytester.path / "k8s").mkdir()
    (pytester.path / "k8s" / "claim.yaml").write_text(claim())
    pytester.makeini("[pytest]\nlocalsvc_manifests = k8s/\nlocalsvc_wait = 60\n")
    env_file = pytester.path / "env"
    pytester.makepyfile(test_claim=PLUGIN_TEST + "    time.sleep(120)\n")
    environ = dict(os.environ, LOCALSVC_NODE_IMAGE=node_image, ENV_FILE=str(env_file))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=pytester.path, start_new_session=True, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    name = ""
    try:
        deadline = time.monotonic() + 120
        while not name or volume_names(docker_client, name) != [
                claim_volume_name(name, "default", "data"), f"localsvc-{name}-state"]:
            assert proc.poll() is None and time.monotonic() < deadline, "no bound claim"
            name = env_file.read_text() if env_file.exists() else ""
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    try:
        wait_for(lambda: labelled(docker_client, name) == NOTHING, timeout=60, interval=1,
                 what=f"the reaper to remove environment {name}, its claim's volume included")
    finally:
        Environment(name).down(volumes=True)  # (only when the reaper did not)
