"""Driving the real kubectl (v1.32, /usr/bin/kubectl) and the official Python client against a
real environment: a kubeconfig written from Environment.kubeconfig() into a temp file (never
the user's ~/.kube/config), every subprocess with a timeout, watches read on a thread so a test
never blocks on a pipe."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, unique_env

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "kubectl"
EXAMPLE = ROOT / "examples" / "backend-service"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
# A second tag of the demo image, so `kubectl set image` rolls to an image the engine has.
DEMO_V2 = "localsvc-examples/demo:kubectl-v2"

# A pod whose readiness follows a file: flipped from outside by removing and touching it.
FLIPPER = f"""apiVersion: v1
kind: Pod
metadata: {{name: flipper, labels: {{app: flipper}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "touch /tmp/ready; exec python3 /app/demo.py serve --port 8080"]
    readinessProbe:
      exec: {{command: ["test", "-f", "/tmp/ready"]}}
      periodSeconds: 1
      failureThreshold: 1
"""


@dataclass
class Kubectl:
    """kubectl bound to one environment through its own kubeconfig file."""

    env: Environment
    kubeconfig: Path

    def environ(self, **extra: str) -> dict[str, str]:
        # KUBECACHEDIR in the temp dir: discovery cached by another environment on the same
        # port must never answer for this one.
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.kubeconfig.parent / "cache"), **extra}

    def args(self, args: tuple[str, ...], request_timeout: str | None) -> list[str]:
        # --request-timeout bounds each HTTP request; commands that watch until their own
        # --timeout (rollout status, wait) pass request_timeout=None.
        flags = [f"--request-timeout={request_timeout}"] if request_timeout else []
        return [KUBECTL, *flags, *args]

    def run(self, *args: str, check: bool = True, timeout: float = 60,
            request_timeout: str | None = "30s", stdin: str | None = None,
            **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.args(args, request_timeout), capture_output=True,
                                text=True, input=stdin, timeout=timeout,
                                env=self.environ(**extra_env))
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                                 f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def out(self, *args: str, **kwargs: Any) -> str:
        return self.run(*args, **kwargs).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.out(*args, "-o", "json"))

    def stream(self, *args: str, request_timeout: str | None = "40s",
               **extra_env: str) -> Stream:
        """A long-running kubectl (get -w, port-forward); its stdout lines arrive on a queue;
        `extra_env` adds to its environment (KUBECTL_PORT_FORWARD_WEBSOCKETS=false...)."""
        process = subprocess.Popen(self.args(args, request_timeout), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   env=self.environ(**extra_env))
        return Stream(process)

    def remove_namespace(self, name: str) -> None:
        """Delete a test's namespace without waiting out its pods' grace periods (a pod
        deleted while its process starts may miss SIGTERM and take its full 30 s): the
        Deployments go first leaving their pods (else force-deleted pods are replaced), then
        the pods, at once."""
        self.run("delete", "deployments", "--all", "-n", name, "--cascade=orphan",
                 "--wait=false", check=False)
        self.run("delete", "pods", "--all", "-n", name, "--grace-period=0", "--force",
                 check=False)
        self.run("delete", "namespace", name, "--wait=false", check=False)

    def namespace(self, name: str) -> str:
        """Create a namespace by apply (`kubectl create namespace` sends protobuf)."""
        self.run("apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Namespace\n"
                                             f"metadata: {{name: {name}}}\n")
        return name


class Stream:
    """Lines of a running process, read on a daemon thread; closed by `stop`."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.arrivals: list[tuple[float, str]] = []  # (unix time it arrived, line)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.arrivals.append((time.time(), line.rstrip("\n")))
            self.lines.put(line.rstrip("\n"))

    def until(self, predicate: Any, timeout: float, what: str) -> list[str]:
        """Read lines until predicate(all lines so far) holds; all lines so far."""
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"kubectl printed:\n" + "\n".join(self.seen)
                                     + f"\nstderr: {self.stderr()}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    raise AssertionError(f"kubectl exited {self.process.returncode} before "
                                         f"{what}; printed:\n" + "\n".join(self.seen)
                                         + f"\nstderr: {self.stderr()}") from None
        return self.seen

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def write_kubeconfig(env: Environment, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(env.kubeconfig()))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def shared_env(node_image: str, demo_image: str) -> Iterator[Environment]:
    """One environment for a module whose tests keep to their own namespaces."""
    environment = Environment(unique_env("k"), node_image=node_image)
    try:
        environment.ensure()
        yield environment
    finally:
        environment.down(volumes=True)


@pytest.fixture(scope="module")
def kubectl(shared_env: Environment, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(shared_env, write_kubeconfig(shared_env, tmp_path_factory.mktemp("kube")))


@pytest.fixture(scope="session")
def demo_v2(docker_client: Any, demo_image: str) -> str:
    """The demo image under a second tag (a tag is a name: nothing is built or pulled)."""
    docker_client.images.get(demo_image).tag(DEMO_V2)
    return DEMO_V2


@pytest.fixture
def ns(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of this test's own, deleted (with its pods) afterwards."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40]
    name = kubectl.namespace(f"{base.strip('-')}-{uuid.uuid4().hex[:4]}")
    yield name
    kubectl.remove_namespace(name)


def python_client(kubeconfig: Path) -> Any:
    """The official client's CoreV1Api, configured from the kubeconfig file only."""
    from kubernetes import client, config  # the test dependency, imported where it is used

    new_client = config.new_client_from_config
    api_client = new_client(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return client.CoreV1Api(api_client)


def apply_example(kubectl: Kubectl, namespace: str, wait: float = 60) -> None:
    """examples/backend-service applied by kubectl into `namespace`, its pods Ready."""
    kubectl.run("apply", "-n", namespace, "-f", str(EXAMPLE))
    kubectl.run("rollout", "status", "-n", namespace, "deploy/backend", f"--timeout={int(wait)}s",
                request_timeout=None, timeout=wait + 10)
    kubectl.run("wait", "-n", namespace, "--for=condition=Ready", "pod", "--all",
                f"--timeout={int(wait)}s", request_timeout=None, timeout=wait + 10)


def rows(table: str) -> list[list[str]]:
    """A kubectl table's rows (header first), split on runs of spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines() if line.strip()]
