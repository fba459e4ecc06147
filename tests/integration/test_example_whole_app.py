"""examples/whole-app runs as its README says: the "Run it" commands, as written, in a unique
environment (web, API, PostgreSQL as a StatefulSet, the migration Job, the Ingress at
shop.localhost); the data written through the Ingress survives `down` and `up`, and
`down --volumes` leaves nothing of the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import docker

from localsvc.host.api import Environment, load_manifests
from localsvc.runtime.claims import claim_volumes
from tests.integration.conftest import ROOT, labelled, unique_env
from tests.integration.test_example_readmes import run_it_block

EXAMPLE = ROOT / "examples" / "whole-app"


def test_whole_app_manifests_load_as_the_readme_lists_them() -> None:
    loaded = load_manifests([EXAMPLE / "k8s"])
    kinds = sorted((m.kind, m.name) for m in loaded.manifests)
    assert kinds == [
        ("ConfigMap", "api"), ("ConfigMap", "migrations"), ("ConfigMap", "web"),
        ("Deployment", "api"), ("Deployment", "web"), ("Ingress", "shop"), ("Job", "migrate"),
        ("Secret", "db"), ("Service", "api"), ("Service", "db"), ("Service", "web"),
        ("StatefulSet", "db"),
    ]


def test_whole_app_readme_commands_run_as_written(
    node_image: str, demo_image: str, postgres_image: str, docker_client: docker.DockerClient
) -> None:
    script = run_it_block(EXAMPLE / "README.md")
    name = unique_env("shop")  # the README's environment, unique so parallel runs do not meet
    script = script.replace("--env shop ", f"--env {name} ").replace(
        "LOCALSVC_ENV=shop\n", f"LOCALSVC_ENV={name}\n")
    assert script.count(name) == 3, script
    bindir = str(Path(sys.executable).parent)
    # Free ingress ports, as parallel test runs should (the README's commands are unchanged:
    # `localsvc url` prints the URLs with whichever ports the controller has).
    environ = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], NO_COLOR="1",
                   LOCALSVC_NODE_IMAGE=node_image, LOCALSVC_INGRESS_HTTP_PORT="0",
                   LOCALSVC_INGRESS_HTTPS_PORT="0")
    environ.pop("LOCALSVC_ENV", None)
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT,
                                env=environ, capture_output=True, text=True, timeout=280)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        # get statefulsets,jobs,pods,pvc
        assert re.search(r"\bdb +1/1\b", out), out
        assert re.search(r"\bmigrate +(Complete +)?1/1\b", out), out
        assert re.search(r"\bdb-0 +1/1 +Running\b", out), out
        assert len(re.findall(r"\bapi-\S+ +1/1 +Running\b", out)) == 2, out
        assert re.search(r"\bweb-\S+ +1/1 +Running\b", out), out
        assert re.search(r"\bdata-db-0 +Bound\b", out), out
        # `url ingress/shop`: one URL per path, in the Ingress's order (/api, then /).
        assert re.search(r"^http://shop\.localhost:\d+/api\nhttp://shop\.localhost:\d+/\n",
                         result.stdout, re.M), out
        # Through the Ingress: the page, the API reading the migrated table, a write.
        assert "<h1>Shop</h1>" in result.stdout, out
        seeded = '[{"id": 1, "name": "coffee"}, {"id": 2, "name": "bread"}]'
        assert seeded in result.stdout.splitlines(), out
        assert '{"id": 3, "name": "tea"}' in result.stdout.splitlines(), out
        # down kept the claim's volume and said how to remove it; the next up found the row.
        assert "kept" in out.lower() and "--volumes" in out, out
        after = '[{"id": 1, "name": "coffee"}, {"id": 2, "name": "bread"}, {"id": 3, "name": "tea"}]'
        assert after in result.stdout.splitlines(), out
        # down --volumes: nothing of the environment is left.
        assert labelled(docker_client, name) == {"containers": 0, "networks": 0, "volumes": 0}
    finally:
        leftover = Environment(name, node_image=node_image)
        if leftover.exists():
            leftover.down()
        for volume in claim_volumes(docker_client, name):
            volume.remove(force=True)
    assert not Environment(name).exists()
