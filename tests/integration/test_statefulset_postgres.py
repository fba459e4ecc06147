"""PostgreSQL as a StatefulSet with a claim from volumeClaimTemplates, driven through the CLI as a
user would: a row written through `localsvc exec db-0 -- psql` survives the pod's deletion (db-0
comes back with the same claim), survives `down` then `up` (down keeps the claim's volume and
says so), and `down --volumes` leaves no container, network or volume of the environment.

The tests run in order on one environment (one step each, so each stays well under a minute)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from localsvc.errors import LocalsvcError
from localsvc.host.api import Environment
from localsvc.host.podstatus import pod_ready
from localsvc.runtime.claims import claim_volume_name, claim_volumes
from tests.integration.conftest import labelled, localsvc, unique_env, wait_for

CLAIM = "data-db-0"  # <template>-<statefulset>-<ordinal>
MANIFEST = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: s3cret
---
# The governing Service: headless, so db-0.db.default.svc.cluster.local names the pod.
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector:
    app: db
  ports:
    - name: postgres
      port: 5432
      targetPort: postgres
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: postgres
          image: localsvc-examples/postgres:15
          imagePullPolicy: IfNotPresent
          env:
            - name: POSTGRES_USER
              value: shop
            - name: POSTGRES_DB
              value: shop
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: db
                  key: password
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
          ports:
            - name: postgres
              containerPort: 5432
          readinessProbe:
            exec:
              command: ["pg_isready", "-h", "127.0.0.1", "-U", "shop", "-d", "shop"]
            initialDelaySeconds: 1
            periodSeconds: 1
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 1Gi
"""


@pytest.fixture(scope="module")
def db_env(node_image: str, postgres_image: str, docker_client: docker.DockerClient,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, Path]]:
    environment = Environment(unique_env("pgsts"), node_image=node_image)
    manifest = tmp_path_factory.mktemp("pgsts") / "db.yaml"
    manifest.write_text(MANIFEST)
    try:
        yield environment, manifest
    finally:
        localsvc(environment, "down", "--volumes", check=False)
        if environment.exists():  # down failed: still remove everything
            environment.down()
        for volume in claim_volumes(docker_client, environment.name):  # whatever down left
            volume.remove(force=True)


def psql(env: Environment, sql: str) -> str:
    """SQL in db-0 through the CLI's exec (the server's socket, trusted locally)."""
    result = localsvc(env, "exec", "db-0", "--", "psql", "-v", "ON_ERROR_STOP=1", "-U", "shop",
                      "-d", "shop", "-Atc", sql, timeout=60)
    return result.stdout.strip()


def up(env: Environment, manifest: Path) -> str:
    result = localsvc(env, "up", "-d", "--wait", "120", "-f", str(manifest), timeout=180)
    return result.stdout + result.stderr


def ready_uid(env: Environment, name: str) -> str:
    """The uid of pod `name` when it exists, is not being deleted and is Ready; else ""."""
    try:
        pod = env.pod(name)
    except LocalsvcError:
        return ""
    if pod["metadata"].get("deletionTimestamp") or not pod_ready(pod):
        return ""
    return str(pod["metadata"]["uid"])


def test_up_runs_db_0_on_a_bound_claim_and_a_row_is_written(
    db_env: tuple[Environment, Path], docker_client: docker.DockerClient
) -> None:
    env, manifest = db_env
    up(env, manifest)
    assert ready_uid(env, "db-0")
    claims = localsvc(env, "get", "pvc").stdout
    assert re.search(rf"^{CLAIM}\s+Bound\s", claims, re.M), claims
    # The claim's data is a Docker volume named by the claim (the fixed interface).
    docker_client.volumes.get(claim_volume_name(env.name, "default", CLAIM))

    psql(env, "create table items (id int primary key, name text)")
    psql(env, "insert into items values (1, 'survives')")
    assert psql(env, "select name from items") == "survives"
    # Over the pod network by the pod's stable name, with the password from the Secret.
    result = localsvc(env, "exec", "db-0", "--", "sh", "-c",
                      'PGPASSWORD="$POSTGRES_PASSWORD" psql -h db-0.db.default.svc.cluster.local '
                      "-U shop -d shop -Atc 'select count(*) from items'", timeout=60)
    assert result.stdout.strip() == "1"


def test_deleted_pod_comes_back_with_the_same_data(db_env: tuple[Environment, Path]) -> None:
    env, _ = db_env
    before = ready_uid(env, "db-0")
    assert before
    started = time.monotonic()
    localsvc(env, "delete", "pod", "db-0", timeout=60)
    after = wait_for(lambda: (uid := ready_uid(env, "db-0")) != before and uid, timeout=45,
                     interval=0.5, what="db-0 Ready again as a new pod")
    assert after != before
    assert time.monotonic() - started < 45
    assert psql(env, "select name from items where id = 1") == "survives"


def test_down_keeps_the_claim_and_up_finds_the_row(
    db_env: tuple[Environment, Path], docker_client: docker.DockerClient
) -> None:
    env, manifest = db_env
    result = localsvc(env, "down", timeout=120)
    said = result.stdout + result.stderr
    # down names what it kept and how to remove it (`down --volumes`), like compose's `-v`.
    assert "kept" in said.lower() and "--volumes" in said, said
    volume = claim_volume_name(env.name, "default", CLAIM)
    docker_client.volumes.get(volume)
    left = labelled(docker_client, env.name)
    assert left == {"containers": 0, "networks": 0, "volumes": 1}, left

    up(env, manifest)
    assert psql(env, "select name from items where id = 1") == "survives"


def test_down_volumes_leaves_nothing(
    db_env: tuple[Environment, Path], docker_client: docker.DockerClient
) -> None:
    env, _ = db_env
    localsvc(env, "down", "--volumes", timeout=120)
    assert labelled(docker_client, env.name) == {"containers": 0, "networks": 0, "volumes": 0}
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(claim_volume_name(env.name, "default", CLAIM))
    assert not env.exists()
