"""`kubectl logs` (v1.32) against a real environment: pods/log with its options, followed logs
that end with their container, --previous, init containers, Deployments and selectors, the API
server's errors, and a client that goes away leaving no thread or Docker connection behind."""

from __future__ import annotations

import base64
import re
import socket
import ssl
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any

import docker
import yaml

from tests.integration.conftest import DEMO_IMAGE, wait_for
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, ns, shared_env)
from localsvc.runtime import labels as L


def pod_yaml(name: str, script: str, restart: str = "Never", image: str = DEMO_IMAGE,
             pull: str = "IfNotPresent") -> str:
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: {restart}
  containers:
  - name: app
    image: {image}
    imagePullPolicy: {pull}
    command: ["sh", "-c", {script!r}]
"""


def apply(kubectl: Kubectl, ns: str, manifest: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=manifest)


def pod_of(kubectl: Kubectl, ns: str, name: str) -> Any:
    return kubectl.json("get", "pod", "-n", ns, name)


def wait_running(kubectl: Kubectl, ns: str, name: str) -> None:
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", f"pod/{name}", "--timeout=40s",
                request_timeout=None, timeout=50)


def raw_error(kubectl: Kubectl, path: str) -> str:
    result = kubectl.run("get", "--raw", path, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


COUNTER = 'for i in $(seq 1 20); do echo "line $i"; done; sleep 3600'


def test_logs_of_a_pod_with_tail_timestamps_limit_and_since(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, pod_yaml("counter", COUNTER))
    wait_running(kubectl, ns, "counter")
    wait_for(lambda: kubectl.out("logs", "-n", ns, "counter").count("\n") == 20, 20,
             what="20 lines")
    assert kubectl.out("logs", "-n", ns, "counter").splitlines() == [
        f"line {i}" for i in range(1, 21)]
    assert kubectl.out("logs", "-n", ns, "counter", "--tail=3").splitlines() == [
        "line 18", "line 19", "line 20"]
    stamped = kubectl.out("logs", "-n", ns, "counter", "--timestamps", "--tail=2").splitlines()
    assert len(stamped) == 2
    for line in stamped:  # Go's RFC3339Nano as the kubelet writes it: no trailing zeros
        match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z) line (19|20)", line)
        assert match, line
    assert kubectl.out("logs", "-n", ns, "counter", "--limit-bytes=10") == "line 1\nlin"
    assert kubectl.out("logs", "-n", ns, "counter", "--since=1h").count("\n") == 20
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert kubectl.out("logs", "-n", ns, "counter", f"--since-time={future}") == ""
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert kubectl.out("logs", "-n", ns, "counter", f"--since-time={past}").count("\n") == 20


def test_follow_streams_and_ends_when_the_container_ends(kubectl: Kubectl, ns: str) -> None:
    script = 'for i in $(seq 1 15); do echo "tick $i"; sleep 0.2; done'
    apply(kubectl, ns, pod_yaml("ticker", script))
    wait_for(lambda: "running" in (pod_of(kubectl, ns, "ticker")["status"].get(
        "containerStatuses") or [{}])[0].get("state", {}), 30, what="ticker running")
    stream = kubectl.stream("logs", "-n", ns, "-f", "ticker")
    try:
        seen = stream.until(lambda lines: "tick 2" in lines, 15, "the first ticks")
        # streamed while running: the last tick is still to come
        assert "tick 15" not in seen
        stream.until(lambda lines: "tick 15" in lines, 15, "the last tick")
        stream.process.wait(timeout=15)  # the container ended: so does the followed log
        assert stream.process.returncode == 0
        assert stream.seen == [f"tick {i}" for i in range(1, 16)]
    finally:
        stream.stop()


def test_previous_shows_the_instance_before_a_restart(kubectl: Kubectl, ns: str) -> None:
    script = 'echo "run $(cat /proc/sys/kernel/random/uuid)"; sleep 1; exit 1'
    apply(kubectl, ns, pod_yaml("crasher", script, restart="Always"))
    wait_for(lambda: (pod_of(kubectl, ns, "crasher")["status"].get("containerStatuses")
                      or [{}])[0].get("restartCount", 0) >= 1, 40, what="a restart")
    wait_for(lambda: kubectl.out("logs", "-n", ns, "crasher", check=False).startswith("run "),
             20, what="the current log")
    previous = kubectl.out("logs", "-n", ns, "crasher", "--previous")
    assert re.fullmatch(r"run [0-9a-f-]{36}\n", previous), previous
    apply(kubectl, ns, pod_yaml("fresh", "echo hi; sleep 3600"))
    wait_running(kubectl, ns, "fresh")
    result = kubectl.run("logs", "-n", ns, "fresh", "--previous", check=False)
    assert result.returncode == 1
    assert ('Error from server (BadRequest): previous terminated container "app" in pod '
            '"fresh" not found') in result.stderr


MULTI = f"""apiVersion: v1
kind: Pod
metadata: {{name: multi}}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - {{name: setup, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo init done"]}}
  containers:
  - {{name: a, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo from a; sleep 3600"]}}
  - {{name: b, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo from b; sleep 3600"]}}
"""


def test_containers_by_name_init_ones_too_and_all_containers(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, MULTI)
    wait_running(kubectl, ns, "multi")
    wait_for(lambda: kubectl.out("logs", "-n", ns, "multi", "-c", "b") == "from b\n", 20,
             what="b's log")
    assert kubectl.out("logs", "-n", ns, "multi", "-c", "a") == "from a\n"
    assert kubectl.out("logs", "-n", ns, "multi", "-c", "setup") == "init done\n"
    every = kubectl.out("logs", "-n", ns, "multi", "--all-containers", "--prefix")
    # kubectl may print the containers' logs in any order
    assert sorted(every.splitlines()) == ["[pod/multi/a] from a", "[pod/multi/b] from b",
                                          "[pod/multi/setup] init done"]
    base = f"/api/v1/namespaces/{ns}/pods/multi/log"
    assert ("a container name must be specified for pod multi, choose one of: [a b] or one of "
            "the init containers: [setup]") in raw_error(kubectl, base)
    assert "container nope is not valid for pod multi" in raw_error(kubectl,
                                                                    base + "?container=nope")


def test_errors_as_the_api_server_words_them(kubectl: Kubectl, ns: str) -> None:
    # kubectl reads the pod first; the log path itself answers 404 the same way
    result = kubectl.run("logs", "-n", ns, "nope", check=False)
    assert 'error from server (NotFound): pods "nope" not found' in result.stderr
    assert 'Error from server (NotFound): pods "nope" not found' in raw_error(
        kubectl, f"/api/v1/namespaces/{ns}/pods/nope/log")
    apply(kubectl, ns, pod_yaml("noimage", "true", image="localsvc-test/absent:1", pull="Never"))
    wait_for(lambda: ((((pod_of(kubectl, ns, "noimage")["status"].get("containerStatuses")
                        or [{}])[0].get("state") or {}).get("waiting") or {}).get("reason")
                      in ("ErrImagePull", "ImagePullBackOff")), 30, what="a failed pull")
    result = kubectl.run("logs", "-n", ns, "noimage", check=False)
    assert re.search(r'Error from server \(BadRequest\): container "app" in pod "noimage" is '
                     r"waiting to start: (image can't be pulled|trying and failing to pull "
                     r"image)", result.stderr), result.stderr
    base = f"/api/v1/namespaces/{ns}/pods/noimage/log"
    assert ('PodLogOptions "noimage" is invalid: tailLines: Invalid value: -1: must be greater '
            "than or equal to 0") in raw_error(kubectl, base + "?tailLines=-1")
    assert "at most one of `sinceTime` or `sinceSeconds` may be specified" in raw_error(
        kubectl, base + "?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")
    assert 'strconv.ParseInt: parsing "x": invalid syntax' in raw_error(kubectl,
                                                                       base + "?limitBytes=x")


def test_options_are_checked_before_the_pod_is_looked_up(kubectl: Kubectl, ns: str) -> None:
    """As the API server's LogREST: bad options are refused (Invalid) even for a pod that does
    not exist; only good ones reach the pod's lookup (NotFound)."""
    base = f"/api/v1/namespaces/{ns}/pods/nowhere/log"
    assert ('PodLogOptions "nowhere" is invalid: tailLines: Invalid value: -1: must be greater '
            "than or equal to 0") in raw_error(kubectl, base + "?tailLines=-1")
    assert 'pods "nowhere" not found' in raw_error(kubectl, base + "?tailLines=1")


DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: backend}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: backend}}}}
  template:
    metadata: {{labels: {{app: backend}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: {DEMO_IMAGE}
        command: ["sh", "-c", "echo hello from $HOSTNAME; sleep 3600"]
"""


def test_logs_of_a_deployment_and_of_a_selector_followed(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, DEPLOYMENT)
    kubectl.run("rollout", "status", "-n", ns, "deploy/backend", "--timeout=60s",
                request_timeout=None, timeout=70)
    pods = sorted(p["metadata"]["name"] for p in
                  kubectl.json("get", "pods", "-n", ns, "-l", "app=backend")["items"])
    assert len(pods) == 2
    wait_for(lambda: kubectl.out("logs", "-n", ns, "deploy/backend").startswith("hello from"),
             20, what="the Deployment's log")
    assert kubectl.out("logs", "-n", ns, "deploy/backend").strip() in {
        f"hello from {p}" for p in pods}
    stream = kubectl.stream("logs", "-n", ns, "-l", "app=backend", "--prefix", "-f")
    try:
        wanted = {f"[pod/{p}/app] hello from {p}" for p in pods}
        stream.until(lambda lines: wanted <= set(lines), 20, "both pods' lines")
        assert stream.process.poll() is None  # still following
    finally:
        stream.stop()


NODE_PROBE = r"""
import os
for pid in os.listdir("/proc"):
    if not pid.isdigit() or pid == str(os.getpid()):
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if b"localsvc" not in cmd:
        continue
    threads = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Threads:")]
    sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    print(threads[0], sockets)
    break
"""


def node_usage(client: docker.DockerClient, env_name: str) -> tuple[int, int]:
    """The node process's thread and socket counts, read in the node's container."""
    node = client.containers.list(filters={"label": [f"{L.ENV}={env_name}",
                                                     f"{L.ROLE}={L.ROLE_NODE}"]})[0]
    code, out = node.exec_run(["python3", "-c", NODE_PROBE])
    assert code == 0, out
    threads, sockets = out.decode().split()
    return int(threads), int(sockets)


def test_a_client_going_away_leaves_no_thread_or_docker_connection(
        kubectl: Kubectl, ns: str, docker_client: docker.DockerClient) -> None:
    apply(kubectl, ns, pod_yaml("quiet", "echo once; sleep 3600"))
    wait_running(kubectl, ns, "quiet")
    env_name = kubectl.env.name

    def follow_and_leave(count: int, check: Any = None) -> None:
        streams = [kubectl.stream("logs", "-n", ns, "-f", "quiet") for _ in range(count)]
        try:
            for s in streams:
                s.until(lambda lines: "once" in lines, 20, "the log")
            if check is not None:
                check()
        finally:
            for s in streams:
                s.stop()

    follow_and_leave(3)  # the node's worker threads and pools are warm after this
    time.sleep(5)  # and the streams of that warm-up have ended
    before = node_usage(docker_client, env_name)
    during: list[tuple[int, int]] = []
    follow_and_leave(4, lambda: during.append(node_usage(docker_client, env_name)))
    threads, sockets = during[0]
    # each stream has kubectl's connection and its own connection to the engine, and no
    # thread of its own (a thread per follower, as before, would show 4 more)
    assert sockets >= before[1] + 8 and threads < before[0] + 4, (before, during)
    # all of them go within a few client checks of kubectl leaving
    seen: list[tuple[int, int]] = []

    def back() -> bool:
        seen.append(node_usage(docker_client, env_name))
        # the node's docker-py pool may keep one or two more idle connections than before: a
        # leak keeps the streams' eight connections
        return seen[-1][0] <= before[0] and seen[-1][1] <= before[1] + 2
    try:
        wait_for(back, 15)
    except AssertionError:
        raise AssertionError(f"threads and sockets {seen[-1]}, not back to {before}") from None


def test_a_tty_container_log_with_timestamps_on_every_line(kubectl: Kubectl, ns: str) -> None:
    manifest = pod_yaml("tty", "echo one; echo two; echo three; sleep 3600").replace(
        "    imagePullPolicy:", "    tty: true\n    imagePullPolicy:")
    apply(kubectl, ns, manifest)
    wait_running(kubectl, ns, "tty")
    wait_for(lambda: "three" in kubectl.out("logs", "-n", ns, "tty"), 20, what="tty's log")
    lines = kubectl.out("logs", "-n", ns, "tty", "--timestamps").splitlines()
    assert len(lines) == 3, lines
    for line, word in zip(lines, ["one", "two", "three"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z " + word + "\r?",
                            line), line


def raw_request(kubectl: Kubectl, method: str, path: str) -> ssl.SSLSocket:
    """A request sent on a TLS socket of our own: nothing is read of the answer."""
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    server = urllib.parse.urlsplit(cluster["server"])
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    context.check_hostname = False
    raw = socket.create_connection((server.hostname, server.port), timeout=10)
    conn = context.wrap_socket(raw, server_hostname=server.hostname)
    token = config["users"][0]["user"]["token"]
    conn.sendall(f"{method} {path} HTTP/1.1\r\nHost: {server.netloc}\r\n"
                 f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n".encode())
    return conn


def test_only_get_reads_a_log(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, pod_yaml("one", "echo hi; sleep 3600"))
    wait_running(kubectl, ns, "one")
    conn = raw_request(kubectl, "POST", f"/api/v1/namespaces/{ns}/pods/one/log")
    try:
        head = conn.recv(4096)
    finally:
        conn.close()
    assert head.startswith(b"HTTP/1.1 405"), head[:200]
    assert b'"reason":"MethodNotAllowed"' in head.replace(b" ", b""), head


def node_rss_kib(client: docker.DockerClient, env_name: str) -> int:
    node = client.containers.list(filters={"label": [f"{L.ENV}={env_name}",
                                                     f"{L.ROLE}={L.ROLE_NODE}"]})[0]
    probe = NODE_PROBE.replace('print(threads[0], sockets)', 'print([l.split()[1] for l in '
                               'open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0])')
    code, out = node.exec_run(["python3", "-c", probe])
    assert code == 0, out
    return int(out.decode().split()[0])


def test_a_client_that_does_not_read_does_not_make_the_node_buffer_the_log(
        kubectl: Kubectl, ns: str, docker_client: docker.DockerClient) -> None:
    # 60 MB of log, written at once; the client asks to follow it and reads nothing
    script = "head -c 60000000 /dev/zero | tr '\\0' x | fold -w 999; echo; echo end; sleep 3600"
    apply(kubectl, ns, pod_yaml("flood", script))
    wait_running(kubectl, ns, "flood")
    wait_for(lambda: kubectl.out("logs", "-n", ns, "flood", "--tail=1") == "end\n", 40,
             what="the whole log written")
    before = node_rss_kib(docker_client, kubectl.env.name)
    conn = raw_request(kubectl, "GET", f"/api/v1/namespaces/{ns}/pods/flood/log?follow=true")
    try:
        head = conn.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        headers = head.split(b"\r\n\r\n", 1)[0].lower()
        assert b"content-type: text/plain" in headers and \
            b"transfer-encoding: chunked" in headers, headers
        time.sleep(6)  # the node reads only what the sockets' buffers hold
        grown = node_rss_kib(docker_client, kubectl.env.name) - before
        assert grown < 30_000, f"the node grew by {grown} KiB for a client reading nothing"
    finally:
        conn.close()
