"""The PostgreSQL image as a pod of an environment (kinds every localsvc runs: a Pod with an
emptyDir, a Service, a Secret): the exec readiness probe with pg_isready, the password from a
Secret, a client pod reaching it by the Service name with password authentication, and a pod
deletion that the fast shutdown finishes in seconds, not the grace period."""

from __future__ import annotations

import time
from pathlib import Path

from localsvc.host.api import Environment
from tests.integration.conftest import localsvc, wait_for, write

MANIFEST = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: pod-secret
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  selector:
    app: db
  ports:
    - port: 5432
      targetPort: 5432
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  labels:
    app: db
spec:
  terminationGracePeriodSeconds: 30
  containers:
    - name: postgres
      image: localsvc-examples/postgres:15
      imagePullPolicy: Never
      env:
        - name: POSTGRES_PASSWORD
          valueFrom:
            secretKeyRef:
              name: db
              key: password
        - name: PGDATA
          value: /var/lib/postgresql/data/pgdata
      readinessProbe:
        exec:
          command: ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
        initialDelaySeconds: 1
        periodSeconds: 1
      volumeMounts:
        - name: data
          mountPath: /var/lib/postgresql/data
  volumes:
    - name: data
      emptyDir: {}
---
# The image doubles as a client: any command but `postgres` runs as given.
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: psql
      image: localsvc-examples/postgres:15
      imagePullPolicy: Never
      command: ["sleep", "infinity"]
"""


def _psql(env: Environment, password: str, sql: str) -> tuple[int, str]:
    result = localsvc(env, "exec", "client", "--", "env", f"PGPASSWORD={password}",
                      "PGCONNECT_TIMEOUT=5", "psql", "-h", "db", "-U", "postgres", "-Atc", sql,
                      check=False, timeout=60)
    return result.returncode, (result.stdout + result.stderr).strip()


def test_postgres_pod_serves_by_service_name_and_stops_fast(
    env: Environment, postgres_image: str, tmp_path: Path
) -> None:
    env.up([write(tmp_path, "db.yaml", MANIFEST)], wait=120)
    assert _psql(env, "pod-secret", "select 'by name'") == (0, "by name")
    code, out = _psql(env, "wrong", "select 1")
    assert code != 0 and 'password authentication failed for user "postgres"' in out, out

    # A connected session would hold PostgreSQL's smart shutdown (plain SIGTERM) for the whole
    # grace period; the image makes it a fast shutdown.
    localsvc(env, "exec", "client", "--", "sh", "-c",
             "PGPASSWORD=pod-secret psql -h db -U postgres -c 'select pg_sleep(60)' "
             ">/dev/null 2>&1 &", timeout=30)
    sleeping = "select count(*) from pg_stat_activity where query like 'select pg_sleep%'"
    wait_for(lambda: _psql(env, "pod-secret", sleeping) == (0, "1"), timeout=20,
             what="the sleeping session")
    started = time.monotonic()
    localsvc(env, "delete", "pod", "db", timeout=60)
    wait_for(lambda: not [p for p in env.get("pods") if p["metadata"]["name"] == "db"],
             timeout=40, interval=0.2, what="pod db gone")
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"deleting the postgres pod took {elapsed:.1f}s"
