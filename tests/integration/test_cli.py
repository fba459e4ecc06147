"""The day-2 CLI against the real engine (issue 9): get, logs, exec, delete and port-forward
forms, manifests from stdin, and localsvc.yaml choosing the environment of every command.
One environment is shared by the module; each test leaves it as the others expect it."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, unique_env, write

APP = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, labels: {{app: web}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web, tier: front}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        ports: [{{containerPort: 8080, name: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, labels: {{app: web}}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: multi, labels: {{app: multi}}}}
spec:
  containers:
  - name: a
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "echo from-a; exec sleep 3600"]
  - name: b
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "echo from-b; exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {{name: longline, labels: {{app: longline}}}}
spec:
  containers:
  - name: c
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "head -c 2621440 /dev/zero | tr '\\\\0' x; echo; echo done; exec sleep 3600"]
"""


def _environ(env_name: str | None, node_image: str) -> dict[str, str]:
    environ = dict(os.environ, LOCALSVC_NODE_IMAGE=node_image, NO_COLOR="1")
    environ.pop("LOCALSVC_ENV", None)
    if env_name:
        environ["LOCALSVC_ENV"] = env_name
    return environ


def run(env: Environment, *args: str, stdin: str | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "localsvc", *args], input=stdin,
                            capture_output=True, text=True, timeout=120, cwd=cwd,
                            env=_environ(env.name, env.node_image or ""))
    if check and result.returncode != 0:
        raise AssertionError(f"localsvc {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class Follow:
    """A long-running `localsvc ...` whose stdout lines are read with a deadline."""

    def __init__(self, env: Environment, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "localsvc", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=_environ(env.name, env.node_image or ""))
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.lines: list[str] = []
        self.buffer = b""

    def until(self, predicate: Callable[[list[str]], bool], timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.fd], [], [], 0.2)
            chunk = os.read(self.fd, 65536) if readable else b""
            self.buffer += chunk
            *done, rest = self.buffer.split(b"\n")
            self.buffer = rest
            self.lines += [line.decode(errors="replace") for line in done]
            if predicate(self.lines):
                return self.lines
            if readable and not chunk:
                break  # the command ended
        self.stop()
        assert self.proc.stderr is not None
        raise AssertionError(f"timed out; lines so far: {self.lines}\nstderr: "
                             f"{self.proc.stderr.read().decode(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def shared(node_image: str, demo_image: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    environment = Environment(unique_env("cli"), node_image=node_image)
    try:
        manifest = write(tmp_path_factory.mktemp("cli"), "app.yaml", APP)
        environment.up([manifest], wait=120)
        yield environment
    finally:
        environment.down()


def test_get_forms(shared: Environment) -> None:
    both = run(shared, "get", "pods,svc").stdout
    pods_table, svc_table = both.split("\n\n")
    assert pods_table.splitlines()[1].startswith("pod/") and "service/web " in svc_table
    everything = run(shared, "get", "all").stdout
    assert "deployment.apps/web " in everything and "pod/multi " in everything
    names = run(shared, "get", "pods", "-l", "app in (web),tier!=back,!canary", "-o", "name").stdout.split()
    assert len(names) == 2 and all(n.startswith("pod/web-") for n in names)
    assert run(shared, "get", "deploy/web", "svc/web", "-o", "name").stdout.split() == [
        "deployment.apps/web", "service/web"]
    labelled = run(shared, "get", "pod", "multi", "--show-labels", "--no-headers").stdout
    assert labelled.split()[0] == "multi" and labelled.split()[-1] == "app=multi"
    missing = run(shared, "get", "pod/multi", "pod/nope", check=False)
    assert missing.returncode == 1 and "multi" in missing.stdout and "nope" in missing.stderr


def test_get_nothing_as_json_yaml_and_table(shared: Environment) -> None:
    """Regression: no objects with -o json printed nothing instead of an empty List."""
    empty = run(shared, "get", "deployments", "-n", "nothing-here", "-o", "json")
    assert json.loads(empty.stdout) == {"apiVersion": "v1", "items": [], "kind": "List",
                                        "metadata": {"resourceVersion": ""}}
    assert "items: []" in run(shared, "get", "cm", "-l", "absent=1", "-A", "-o", "yaml").stdout
    table = run(shared, "get", "deployments", "-n", "nothing-here")
    assert table.stdout == "" and "No resources found in nothing-here namespace." in table.stderr


def test_exec_forms(shared: Environment) -> None:
    assert run(shared, "exec", "multi", "-c", "b", "--", "sh", "-c", "echo $0", "hi").stdout == "hi\n"
    assert run(shared, "exec", "multi", "-n", "default", "--", "hostname").stdout.strip() == "multi"
    code = run(shared, "exec", "deploy/web", "--", "sh", "-c", "hostname; exit 3", check=False)
    assert code.returncode == 3 and code.stdout.startswith("web-")
    missing = run(shared, "exec", "multi", check=False)
    assert missing.returncode == 2 and "exec needs a command after --" in missing.stderr


def test_logs_forms(shared: Environment) -> None:
    both = run(shared, "logs", "multi", "--all-containers").stdout.splitlines()
    assert both == ["[pod/multi/a] from-a", "[pod/multi/b] from-b"]
    assert run(shared, "logs", "multi", "-c", "b").stdout == "from-b\n"
    stamped = run(shared, "logs", "multi", "--timestamps", "--since=1h").stdout
    assert stamped.split(" ", 1)[0].endswith("Z") and stamped.rstrip().endswith("from-a")
    assert run(shared, "logs", "multi", "--since-time", "2999-01-01T00:00:00Z").stdout == ""
    selected = run(shared, "logs", "-l", "app=multi", "-c", "b").stdout
    assert selected == "[pod/multi/b] from-b\n"
    every = run(shared, "logs").stdout  # every container of every pod
    assert "[pod/multi/a] from-a" in every and "[pod/multi/b] from-b" in every
    assert run(shared, "logs", "deploy/web", "--tail", "0").stdout == ""
    wrong = run(shared, "logs", "multi", "-c", "nope", check=False)
    assert wrong.returncode == 1 and 'container "nope" not found in pod "multi"; it has: a, b' in wrong.stderr


def test_a_line_longer_than_the_cap_is_cut_and_marked(shared: Environment) -> None:
    """Regression: a log line was held whole, however long; now pieces of 1 MiB, marked."""
    lines = run(shared, "logs", "longline").stdout.split("\n")
    mark = " [line continues]"
    assert [len(line) for line in lines[:3]] == [2 ** 20 + len(mark)] * 2 + [2621440 - 2 ** 21]
    assert lines[0].endswith(mark) and lines[1].endswith(mark) and set(lines[2]) == {"x"}
    assert lines[3:] == ["done", ""]


def test_stdin_manifest_and_follow_across_restarts(shared: Environment) -> None:
    crash = f"""
apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  containers:
  - name: c
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid); sleep 1; exit 1"]
"""
    applied = run(shared, "apply", "-f", "-", stdin=crash)  # `cat crash.yaml | localsvc apply -f -`
    assert "pod/crash created" in applied.stdout
    follow = Follow(shared, "logs", "crash", "-f")
    try:
        lines = follow.until(lambda ls: len({x for x in ls if x.startswith("run-")}) >= 2, 45)
        assert len(set(lines)) == len(lines)  # each run once: a restart is not shown again
    finally:
        follow.stop()
        run(shared, "delete", "pod", "crash")


def test_bare_logs_follow_includes_new_pods(shared: Environment) -> None:
    follow = Follow(shared, "logs", "-f")
    try:
        follow.until(lambda ls: "[pod/multi/a] from-a" in ls, 30)
        late = f"""
apiVersion: v1
kind: Pod
metadata: {{name: late, labels: {{app: late}}}}
spec:
  containers:
  - {{name: c, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo late-hello; exec sleep 3600"]}}
"""
        run(shared, "apply", "-f", "-", stdin=late)
        follow.until(lambda ls: "[pod/late/c] late-hello" in ls, 30)
    finally:
        follow.stop()
    deleted = run(shared, "delete", "pods", "-l", "app=late")
    assert deleted.stdout.strip() == "pod/late deleted"


def test_delete_by_selector_and_all(shared: Environment) -> None:
    configs = "".join(f"""
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: c{i}, namespace: {ns}, labels: {{batch: "{i % 2}"}}}}
""" for i, ns in enumerate(["default", "default", "scratch", "scratch"]))
    run(shared, "apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n" + configs)
    assert run(shared, "delete", "cm", "-l", "batch=0").stdout.split() == ["configmap/c0", "deleted"]
    assert run(shared, "delete", "configmaps", "--all", "-n", "scratch").stdout.split() == [
        "configmap/c2", "-n", "scratch", "deleted", "configmap/c3", "-n", "scratch", "deleted"]
    assert run(shared, "get", "cm", "-o", "name").stdout.split() == ["configmap/c1"]
    run(shared, "delete", "cm/c1", "ns/scratch")


OTHER_CLASS_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: other}
spec: {controller: example.com/other-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: elsewhere}
spec:
  ingressClassName: other
  rules:
  - host: elsewhere.localhost
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
"""


def test_up_does_not_wait_for_a_controller_that_serves_no_ingress(shared: Environment) -> None:
    """Regression: with Ingresses of another class only, no ingress controller starts and `up`
    waited 8 s for it."""
    from localsvc.host.ingressurl import up_notice

    run(shared, "apply", "-f", "-", stdin=OTHER_CLASS_INGRESS)
    try:
        started = time.monotonic()
        assert up_notice(shared) is None
        assert time.monotonic() - started < 3
    finally:
        run(shared, "delete", "ingress/elsewhere", "ingressclass/other")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_get(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.settimeout(10)
        conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data.decode(errors="replace")


def test_port_forward_deployment_several_ports_all_or_none(shared: Environment) -> None:
    one, two = _free_port(), _free_port()
    follow = Follow(shared, "port-forward", "deploy/web", f"{one}:8080", f"{two}:8080",
                    "--address", "localhost")
    try:
        lines = follow.until(lambda ls: len(ls) >= 2, 30)
        assert lines[0].startswith(f"Forwarding from 127.0.0.1:{one} -> pod/web-")
        assert lines[1].endswith(":8080")
        assert _http_get(one).startswith("HTTP/1.") and _http_get(two).startswith("HTTP/1.")
        # Now `one` is taken: a second forward of (free, one) must not keep `free` listening.
        free = _free_port()
        refused = run(shared, "port-forward", "svc/web", f"{free}:80", f"{one}:80", check=False)
        assert refused.returncode == 1 and f"cannot listen on 127.0.0.1:{one}" in refused.stderr
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", free), timeout=2).close()
    finally:
        follow.stop()


def test_project_file_chooses_the_environment_of_every_command(
        node_image: str, demo_image: str, tmp_path: Path) -> None:
    name = unique_env("proj")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # a repository root: the project file is looked up to it
    (project / "k8s").mkdir(parents=True)
    (project / "sub" / "dir").mkdir(parents=True)
    write(project / "k8s", "pod.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: solo}}
spec:
  containers: [{{name: c, image: {DEMO_IMAGE}, command: ["sleep", "3600"]}}]
""")
    write(project, "localsvc.yaml", f"environment: {name}\nmanifests: [k8s]\n")
    environ = _environ(None, node_image)
    try:
        up = subprocess.run([sys.executable, "-m", "localsvc", "up", "-d"], cwd=project,
                            env=environ, capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stderr
        got = subprocess.run([sys.executable, "-m", "localsvc", "get", "pods", "-o", "name"],
                             cwd=project / "sub" / "dir", env=environ, capture_output=True,
                             text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        assert got.stdout.split() == ["pod/solo"]
        down = subprocess.run([sys.executable, "-m", "localsvc", "down"], cwd=project / "sub",
                              env=environ, capture_output=True, text=True, timeout=120)
        assert f"environment {name} removed" in down.stdout, down.stderr
    finally:
        Environment(name, node_image=node_image).down()
