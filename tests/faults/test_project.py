"""Issue 10, cases 8 and 9: one environment per checkout, `prune` leaves environments being
created alone, and localsvc.yaml is trusted no further than the project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import docker

from localsvc.host.api import Environment
from localsvc.runtime import environment as envrt
from localsvc.runtime.prune import PRUNE_AGE, prune_orphans
from tests.faults.conftest import Cluster, unique_env
from tests.integration.conftest import labelled

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted}\ndata: {k: v}\n"


def run_cli(cwd: Path, *args: str, env_name: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "LOCALSVC_ENV"}
    if env_name:
        environ["LOCALSVC_ENV"] = env_name
    return subprocess.run([sys.executable, "-m", "localsvc", *args], capture_output=True, text=True,
                          cwd=cwd, env=dict(environ, NO_COLOR="1"), timeout=60)


def test_case08_two_checkouts_named_app_target_two_environments(fault: Cluster,
                                                                tmp_path: Path) -> None:
    names = []
    for checkout in ("job-1", "job-2"):
        directory = tmp_path / checkout / "app"
        directory.mkdir(parents=True)
        result = run_cli(directory, "get", "pods")
        assert result.returncode == 1
        found = re.search(r'environment "([^"]+)" does not exist', result.stderr)
        assert found, result.stderr
        names.append(found.group(1))
    assert names[0] != names[1], names
    assert all(name.startswith("app-") for name in names), names


def test_case08_prune_leaves_environments_being_created_alone(
        fault: Cluster, docker_client: docker.DockerClient, node_image: str) -> None:
    creating = unique_env("n")  # `up` has made the network; the node comes next
    stopped = Environment(unique_env("n"), node_image=node_image)
    try:
        envrt.create_network(docker_client, creating, None)
        stopped.ensure()
        docker_client.containers.get(envrt.node_name(stopped.name)).stop(timeout=2)
        mine = {creating, stopped.name}
        assert prune_orphans(docker_client, names=mine) == []
        assert labelled(docker_client, creating)["networks"] == 1
        assert labelled(docker_client, stopped.name)["containers"] == 1
        # Gone for longer than PRUNE_AGE: left-overs, both removed.
        later = time.time() + PRUNE_AGE + 5
        pruned = prune_orphans(docker_client, names=mine, now=later)
        assert sorted(p.name for p in pruned) == sorted(mine)
        for name in mine:
            assert labelled(docker_client, name) == {"containers": 0, "networks": 0, "volumes": 0}
    finally:
        envrt.destroy(docker_client, creating)
        stopped.down()


def test_case09_localsvc_yaml_is_trusted_no_further_than_the_project(
        fault: Cluster, tmp_path: Path) -> None:
    name = unique_env("y")
    try:
        # A file planted above the repository root is never read.
        (tmp_path / "localsvc.yaml").write_text("manifests: [planted.yaml]\n")
        (tmp_path / "planted.yaml").write_text(CONFIGMAP)
        repo = tmp_path / "repo"
        (repo / ".git").mkdir(parents=True)
        (repo / "proj").mkdir()
        result = run_cli(repo / "proj", "up", "-d", env_name=name)
        assert result.returncode != 0, result.stdout + result.stderr
        assert "planted" not in result.stdout
        # A build context outside the project is an error naming the file and field.
        (repo / "k8s").mkdir()
        (repo / "k8s" / "cm.yaml").write_text(CONFIGMAP.replace("planted", "mine"))
        (repo / "localsvc.yaml").write_text(
            "manifests: [k8s/]\nimages:\n  - name: evil/steal:dev\n    context: ../..\n")
        result = run_cli(repo, "up", "-d", env_name=name)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "localsvc.yaml:4" in result.stderr and "images[0].context" in result.stderr
        # A non-loopback host address needs the command-line flag.
        (repo / "localsvc.yaml").write_text("manifests: [k8s/]\nhostAddress: 0.0.0.0\n")
        result = run_cli(repo, "up", "-d", env_name=name)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "localsvc.yaml:2" in result.stderr and "hostAddress" in result.stderr
        assert labelled(fault.env.docker, name) == {"containers": 0, "networks": 0, "volumes": 0}
    finally:
        envrt.destroy(fault.env.docker, name)
