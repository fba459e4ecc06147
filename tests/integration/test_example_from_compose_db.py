"""examples/from-compose's database: compose's `db` with the named volume db-data becomes the
StatefulSet `db` with a claim template (k8s/db.yaml). The mapping matches on both sides, the
API's DATABASE_URL (password from the Secret) reaches PostgreSQL through the Service `db`, and
`down` keeps the claim's volume as `docker compose down` keeps db-data; `down --volumes` removes
it as `down -v` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from localsvc.host.api import Environment
from localsvc.runtime.claims import claim_volume_name, claim_volumes
from tests.integration.conftest import ROOT, free_port, labelled, localsvc, unique_env
from tests.integration.test_examples_more import copy_manifests, service_ports

EXAMPLE = ROOT / "examples" / "from-compose"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_compose_volume_and_claim_template_mount_the_same_path() -> None:
    compose = yaml.safe_load((EXAMPLE / "docker-compose.yaml").read_text())
    volume, _, target = compose["services"]["db"]["volumes"][0].partition(":")
    assert volume in compose["volumes"]
    [statefulset] = [d for d in _docs(EXAMPLE / "k8s" / "db.yaml") if d["kind"] == "StatefulSet"]
    spec = statefulset["spec"]
    [template] = spec["volumeClaimTemplates"]
    [container] = spec["template"]["spec"]["containers"]
    [mount] = container["volumeMounts"]
    assert (mount["name"], mount["mountPath"]) == (template["metadata"]["name"], target)
    env = {e["name"]: e.get("value") for e in container["env"]}
    compose_env = compose["services"]["db"]["environment"]
    for key in ("POSTGRES_USER", "POSTGRES_DB", "PGDATA"):
        assert env[key] == compose_env[key]


@pytest.fixture
def compose_env(node_image: str, demo_image: str, postgres_image: str,
                docker_client: docker.DockerClient) -> Iterator[Environment]:
    environment = Environment(unique_env("fcdb"), node_image=node_image)
    try:
        yield environment
    finally:
        localsvc(environment, "down", "--volumes", check=False)
        if environment.exists():
            environment.down()
        for volume in claim_volumes(docker_client, environment.name):
            volume.remove(force=True)


def test_database_url_reaches_db_and_down_keeps_the_volume(
    compose_env: Environment, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    lb_port = free_port(20000, 29999)

    def edit(doc: dict[str, Any]) -> None:  # the fixed host port 8080 may be taken
        for port in service_ports(doc, "api"):
            port["port"] = lb_port
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "web":
            spec = doc["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                for key in ("command", "args"):
                    if key in container:
                        container[key] = [a.replace("api:8080", f"api:{lb_port}")
                                          for a in container[key]]

    manifests = copy_manifests(EXAMPLE / "k8s", tmp_path / "k8s", edit)
    env = compose_env
    localsvc(env, "up", "-d", "--wait", "150", "-f", str(manifests), timeout=200)
    claims = localsvc(env, "get", "pvc").stdout
    assert "data-db-0" in claims and "Bound" in claims, claims

    api = [p["metadata"]["name"] for p in env.get("pods") if p["metadata"]["name"].startswith("api-")]
    url = localsvc(env, "exec", api[0], "--", "printenv", "DATABASE_URL").stdout.strip()
    assert url == "postgresql://app:example@db:5432/app"  # $(DB_PASSWORD) from the Secret
    # The API's URL, used from the database's own image (the demo API has no client library).
    answer = localsvc(env, "exec", "db-0", "--", "psql", url, "-Atc",
                      "create table kept (v text); insert into kept values ('yes'); "
                      "select current_user || '@' || current_database()", timeout=60)
    assert answer.stdout.strip().splitlines()[-1] == "app@app", answer.stdout

    result = localsvc(env, "down", timeout=120)
    said = result.stdout + result.stderr
    assert "kept" in said.lower() and "--volumes" in said, said
    docker_client.volumes.get(claim_volume_name(env.name, "default", "data-db-0"))
    assert labelled(docker_client, env.name) == {"containers": 0, "networks": 0, "volumes": 1}

    localsvc(env, "down", "--volumes", timeout=120)
    assert labelled(docker_client, env.name) == {"containers": 0, "networks": 0, "volumes": 0}
