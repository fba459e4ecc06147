"""The PostgreSQL image of the examples (examples/images/postgres) with plain Docker, no
environment: first-start initialisation from the official image's variables, PGDATA under a
volume that outlives the container, password authentication from other containers, the
postgres user, pg_isready, and a fast shutdown on SIGTERM even with a client connected."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from localsvc.runtime import labels as L

from .conftest import wait_for

MOUNT = "/var/lib/postgresql/data"
PGDATA = f"{MOUNT}/pgdata"
SETTINGS = {"POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "shopdb",
            "PGDATA": PGDATA}


class Database:
    """A postgres container on a labelled Docker volume; removed with the volume afterwards."""

    def __init__(self, client: docker.DockerClient, image: str, environment: dict[str, str]):
        self.client, self.image = client, image
        self.name = f"pgimage-{uuid.uuid4().hex[:8]}"
        # The env label, so a leak of this test shows up like any environment's leftovers.
        self.labels = {L.ENV: self.name}
        self.volume = client.volumes.create(self.name, labels=self.labels)
        self.container: Any = client.containers.run(
            image, name=self.name, detach=True, environment=environment, labels=self.labels,
            volumes={self.volume.name: {"bind": MOUNT, "mode": "rw"}},
        )

    def psql(self, sql: str) -> str:
        """SQL through the container's socket (trusted locally, as in the official image)."""
        result = self.container.exec_run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-U", "shop", "-d", "shopdb", "-Atc", sql])
        assert result.exit_code == 0, result.output.decode(errors="replace")
        return str(result.output.decode()).strip()

    def ready(self) -> bool:
        self.container.reload()
        if self.container.status != "running":
            raise AssertionError(f"postgres exited:\n{self.logs()}")
        probe = self.container.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", "shop",
                                         "-d", "shopdb", "-t", "2"])
        return bool(probe.exit_code == 0)

    def wait_ready(self) -> None:
        wait_for(self.ready, timeout=45, interval=0.3, what=f"pg_isready in {self.name}")

    def logs(self) -> str:
        return str(self.container.logs().decode(errors="replace"))

    def address(self) -> str:
        self.container.reload()
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    def remove(self) -> None:
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        self.volume.remove(force=True)


@pytest.fixture(scope="module")
def database(docker_client: docker.DockerClient, postgres_image: str) -> Iterator[Database]:
    db = Database(docker_client, postgres_image, SETTINGS)
    try:
        db.wait_ready()
        yield db
    finally:
        db.remove()


def _client(client: docker.DockerClient, image: str, db: Database, password: str,
            sql: str) -> tuple[int, str]:
    """psql from another container (the image doubles as a client) over TCP to the server."""
    container = client.containers.run(
        image, ["psql", "-h", db.address(), "-U", "shop", "-d", "shopdb", "-Atc", sql],
        environment={"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"}, detach=True,
    )
    try:
        status = container.wait(timeout=30)["StatusCode"]
        return int(status), str(container.logs().decode(errors="replace")).strip()
    finally:
        container.remove(force=True)


def test_first_start_initialises_pgdata_under_the_mount_as_postgres(database: Database) -> None:
    assert "initializing " + PGDATA in database.logs()
    version = database.container.exec_run(["cat", f"{PGDATA}/PG_VERSION"])
    assert version.output.decode().strip() == "15"
    # The server runs as postgres (uid 999, as in the official image), not root.
    owners = database.container.exec_run(["ps", "-o", "uid=", "-C", "postgres"])
    assert set(owners.output.decode().split()) == {"999"}
    assert database.psql("select current_user, current_database()") == "shop|shopdb"
    assert database.psql("show listen_addresses") == "*"


def test_password_authentication_from_another_container(
    docker_client: docker.DockerClient, postgres_image: str, database: Database
) -> None:
    status, out = _client(docker_client, postgres_image, database, "wrong", "select 1")
    assert status != 0 and 'password authentication failed for user "shop"' in out
    status, out = _client(docker_client, postgres_image, database, "s3cret",
                          "select 'over tcp'")
    assert (status, out) == (0, "over tcp")


def test_row_survives_a_container_restart(database: Database) -> None:
    database.psql("create table items (id int primary key, name text)")
    database.psql("insert into items values (1, 'kept')")
    database.container.restart(timeout=10)
    database.wait_ready()
    assert database.psql("select name from items where id = 1") == "kept"
    assert f"{PGDATA} holds a database: initialization skipped" in database.logs()


def test_sigterm_is_a_fast_shutdown_even_with_a_client_connected(
    docker_client: docker.DockerClient, postgres_image: str
) -> None:
    db = Database(docker_client, postgres_image, SETTINGS)
    try:
        db.wait_ready()
        # A session that would hold a "smart" shutdown (plain SIGTERM to postgres) for a minute.
        db.container.exec_run(["psql", "-U", "shop", "-d", "shopdb", "-c",
                               "select pg_sleep(60)"], detach=True)
        wait_for(lambda: db.psql("select count(*) from pg_stat_activity "
                                 "where query like 'select pg_sleep%'") == "1",
                 timeout=10, what="the sleeping session")
        started = time.monotonic()
        db.container.kill(signal="SIGTERM")
        status = db.container.wait(timeout=30)["StatusCode"]
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"stopping took {elapsed:.1f}s"
        assert status == 0, db.logs()
        assert "received fast shutdown request" in db.logs()
    finally:
        db.remove()


def test_no_password_is_refused_with_the_fix(
    docker_client: docker.DockerClient, postgres_image: str
) -> None:
    db = Database(docker_client, postgres_image, {"PGDATA": PGDATA})
    try:
        assert db.container.wait(timeout=30)["StatusCode"] == 1
        assert "POSTGRES_PASSWORD is not set" in db.logs()
        assert "POSTGRES_HOST_AUTH_METHOD=trust" in db.logs()
    finally:
        db.remove()


def test_password_from_a_file_and_other_commands_run_as_given(
    docker_client: docker.DockerClient, postgres_image: str
) -> None:
    out = docker_client.containers.run(postgres_image, ["psql", "--version"], remove=True)
    assert out.decode().startswith("psql (PostgreSQL) 15.")
    # python3 too (the base's): examples/whole-app's API is a Python script calling psql.
    out = docker_client.containers.run(postgres_image, ["python3", "-c", "print('py')"],
                                       remove=True)
    assert out.decode() == "py\n"
    db = Database(docker_client, postgres_image,
                  {"POSTGRES_PASSWORD_FILE": f"{MOUNT}/password", "PGDATA": PGDATA})
    try:
        # Exits at once (no password yet, file missing): write the file, then start again.
        db.container.wait(timeout=30)
        helper = docker_client.containers.run(
            postgres_image, ["sh", "-c", f"printf fromfile > {MOUNT}/password"], remove=True,
            volumes={db.volume.name: {"bind": MOUNT, "mode": "rw"}})
        assert helper == b""
        db.container.start()
        wait_for(lambda: db.container.exec_run(["pg_isready", "-h", "127.0.0.1"]).exit_code == 0,
                 timeout=45, what="pg_isready")
        check = docker_client.containers.run(
            postgres_image, ["psql", "-h", db.address(), "-U", "postgres", "-Atc", "select 7"],
            environment={"PGPASSWORD": "fromfile", "PGCONNECT_TIMEOUT": "5"}, remove=True)
        assert check.decode().strip() == "7"
    finally:
        db.remove()


def test_trust_runs_without_a_password(
    docker_client: docker.DockerClient, postgres_image: str
) -> None:
    db = Database(docker_client, postgres_image,
                  {"POSTGRES_HOST_AUTH_METHOD": "trust", "PGDATA": PGDATA})
    try:
        wait_for(lambda: db.container.exec_run(["pg_isready", "-h", "127.0.0.1"]).exit_code == 0,
                 timeout=45, what="pg_isready")
        out = docker_client.containers.run(
            postgres_image, ["psql", "-h", db.address(), "-U", "postgres", "-Atc", "select 8"],
            environment={"PGCONNECT_TIMEOUT": "5"}, remove=True)
        assert out.decode().strip() == "8"
    finally:
        db.remove()
