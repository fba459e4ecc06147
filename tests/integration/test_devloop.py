"""The dev loop against the real engine: foreground `up` streams logs and stops cleanly, watched
edits change exactly what they should, bad edits change nothing, source edits rebuild and roll only
the pods of that image, sync rules copy files without a rebuild, localsvc.yaml errors are clear."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import (
    DEMO_IMAGE,
    ROOT,
    free_port,
    labelled,
    unique_env,
    wait_for,
)

WEB = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}, {{name: MODE, value: one}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: extra}}
spec:
  selector: {{app: web}}
  ports: [{{port: 81, targetPort: 8080}}]
"""


class Foreground:
    """`localsvc up` in the foreground, as a developer runs it, with its output collected."""

    def __init__(self, env_name: str, cwd: Path, *args: str):
        self.out = cwd / "up.out"
        self.err = cwd / "up.err"
        environ = dict(os.environ, LOCALSVC_ENV=env_name, NO_COLOR="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "localsvc", "up", *args], cwd=cwd,
                                     stdout=self.out.open("w"), stderr=self.err.open("w"),
                                     env=environ)

    def stderr(self) -> str:
        return self.err.read_text()

    def stdout(self) -> str:
        return self.out.read_text()

    def wait_err(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: text in self.stderr() or self.proc.poll() is not None, timeout=timeout,
                 what=repr(text))
        assert text in self.stderr(), self.stderr()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


@pytest.fixture
def env_name(node_image: str, demo_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = unique_env("dl")
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    try:
        yield name
    finally:
        Environment(name).down()


def pod_containers(env: Environment) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"]["containerStatuses"][0].get("containerID", "")
            for p in env.get("pods") if not p["metadata"].get("deletionTimestamp")}


def test_foreground_up_watch_and_clean_stop(env_name: str, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(WEB)
    up = Foreground(env_name, tmp_path, "-f", "app.yaml")
    env = Environment(env_name)
    up.wait_err("Ctrl-C stops it")
    env.wait_ready(60)
    # Every pod's log lines stream to stdout with a per-pod prefix.
    wait_for(lambda: len(set(re.findall(r"^(web-\S+) \| .*serving HTTP", up.stdout(), re.M))) == 2,
             timeout=20, what="both pods' log lines")
    before = pod_containers(env)

    # A Service port change reconciles the Service only: same pods, same containers.
    manifest.write_text(WEB.replace("port: 81,", "port: 82,"))
    up.wait_err("service/extra configured")
    assert env.get("svc", "extra")[0]["spec"]["ports"][0]["port"] == 82
    assert pod_containers(env) == before

    # An invalid edit prints the problem and changes nothing.
    manifest.write_text(WEB.replace("port: 81,", "port: 82,").replace("replicas: 2", "replicas: -3"))
    up.wait_err("spec.replicas: must be greater than or equal to 0")
    time.sleep(1)
    assert pod_containers(env) == before and env.get("svc", "extra")

    # A template change rolls the Deployment; a removed object is deleted.
    manifest.write_text(WEB.replace("value: one", "value: two").split("---\napiVersion: v1\nkind: Service\nmetadata: {name: extra}")[0])
    up.wait_err("deployment/web configured")
    wait_for(lambda: not (set(pod_containers(env)) & set(before)) and len(pod_containers(env)) == 2,
             timeout=60, what="the rollout")
    assert "service/extra deleted" in up.stderr()
    assert sorted(s["metadata"]["name"] for s in env.get("svc")) == ["kubernetes", "web"]

    assert up.stop() == 0
    assert "stopped cleanly" in up.stderr()
    assert labelled(env.docker, env_name) == {"containers": 0, "networks": 0, "volumes": 0}


def devloop_events(env: Environment, reason: str) -> list[dict[str, object]]:
    return [e for e in env.get("events", namespace=None)
            if e.get("reportingComponent") == "localsvc-devloop" and e["reason"] == reason]


def get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def test_source_edit_rebuilds_and_rolls_only_that_image(env_name: str, tmp_path: Path) -> None:
    project = tmp_path / "dev-loop"
    shutil.copytree(ROOT / "examples" / "dev-loop", project)
    port = free_port()
    app_yaml = project / "k8s" / "app.yaml"
    app_yaml.write_text(re.sub(r"nodePort: \d+", f"nodePort: {port}", app_yaml.read_text()))
    # An unrelated Deployment in the same project must not be touched by the app's rebuild.
    (project / "k8s" / "other.yaml").write_text(WEB.split("---")[0].replace("name: web", "name: other")
                                                .replace("app: web", "app: other"))
    image = "dev-loop/app:dev"
    up = Foreground(env_name, project)
    env = Environment(env_name)
    up.wait_err("Ctrl-C stops it", timeout=180)
    env.wait_ready(90)
    assert get(f"http://127.0.0.1:{port}/").startswith("v1 from app-")
    others = {k: v for k, v in pod_containers(env).items() if k.startswith("other-")}
    app_pods = {k for k in pod_containers(env) if k.startswith("app-")}

    started = time.monotonic()
    server = project / "app" / "server.py"
    server.write_text(server.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    wait_for(lambda: get(f"http://127.0.0.1:{port}/").startswith("v2 from app-"), timeout=120,
             what="the rebuilt app to answer")
    rebuild_seconds = time.monotonic() - started
    assert f"rebuilt {image}" in up.stderr()
    # The step is an Event too (host/devloop/activity.py): its duration, the Deployment rolled.
    rebuilt = wait_for(lambda: devloop_events(env, "Rebuilt"), timeout=10, what="Rebuilt")
    assert re.fullmatch(rf"rebuilt {image} in \d+\.\d s; rolling deployment/app",
                        rebuilt[0]["message"]), rebuilt[0]["message"]
    assert rebuilt[0]["involvedObject"]["kind"] == "Deployment"
    env.wait_ready(60)
    current = pod_containers(env)
    assert {k: v for k, v in current.items() if k.startswith("other-")} == others
    assert not app_pods & set(current)
    print(f"source edit -> rebuilt pod answering: {rebuild_seconds:.1f} s")

    # A file under a sync rule is copied into the running container: no rebuild, no new pod.
    app_now = {k: v for k, v in pod_containers(env).items() if k.startswith("app-")}
    index = project / "app" / "static" / "index.html"
    index.write_text("<h1>synced</h1>\n")
    up.wait_err("synced 1 file(s)")
    synced = wait_for(lambda: devloop_events(env, "Synced"), timeout=10, what="Synced")
    assert re.fullmatch(rf"synced app/static/index\.html into \d+ container\(s\) of {image} "
                        r"in \d+\.\d s", synced[0]["message"]), synced[0]["message"]
    assert synced[0]["involvedObject"]["kind"] == "Pod"
    assert "synced" in get(f"http://127.0.0.1:{port}/static/index.html")
    assert {k: v for k, v in pod_containers(env).items() if k.startswith("app-")} == app_now
    assert up.stop() == 0


def test_project_file_errors_are_clear(env_name: str, tmp_path: Path) -> None:
    (tmp_path / "localsvc.yaml").write_text("environment: demo\nimagez: []\nimages:\n  - name: Web\n    context: nowhere\n")
    result = subprocess.run([sys.executable, "-m", "localsvc", "up", "-d"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, LOCALSVC_ENV=env_name, NO_COLOR="1"))
    assert result.returncode == 1
    assert "localsvc.yaml:2: imagez: unknown key" in result.stderr and 'did you mean "images"' in result.stderr
    assert "localsvc.yaml:4: images[0].name" in result.stderr
    assert "images[0].context" in result.stderr
    assert not Environment(env_name).exists()
