"""Events with the real kubectl v1.32 (issue 13, "Events"): recorded where the kubelet and the
controllers record them, shown by `kubectl describe`, streamed by `kubectl get events --watch`,
served as events.k8s.io/v1 too. One environment for the module, a namespace per test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localsvc.host.api import Environment
from localsvc.host.kubepaths import collection_path, with_query
from localsvc.runtime import labels as L
from tests.integration.conftest import DEMO_IMAGE, free_port, unique_env, wait_for, write
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, ns, python_client, shared_env)


def pod(name: str, container: str, image: str = DEMO_IMAGE, quick_delete: bool = True) -> str:
    """A pod of one container named app; `container` is the rest of its fields, one a line."""
    fields = "".join(f"    {line}\n" for line in container.strip().splitlines())
    grace = "  terminationGracePeriodSeconds: 0\n" if quick_delete else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{grace}"
            f"  containers:\n  - name: app\n    image: {image}\n{fields}")


CRASHER = pod("crasher", """
imagePullPolicy: IfNotPresent
command: ["sh", "-c", "echo bye; exit 3"]""")
SLEEPING = 'command: ["sleep", "600"]'
NOT_READY = pod("notready", SLEEPING + """
readinessProbe:
  exec: {command: ["sh", "-c", "echo warming-up-still; exit 1"]}
  periodSeconds: 1""")

DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: {DEMO_IMAGE}
        command: ["sleep", "600"]
"""


def events(kubectl: Kubectl, ns: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", "events", "-n", ns] + (["--field-selector", selector] if selector else [])
    return list(kubectl.json(*args)["items"])


def reasons(kubectl: Kubectl, ns: str, selector: str) -> set[str]:
    return {e["reason"] for e in events(kubectl, ns, selector)}


def describe_events(kubectl: Kubectl, ns: str, *what: str) -> str:
    """The Events section of `kubectl describe`."""
    text = kubectl.out("describe", "-n", ns, *what)
    return text[text.index("\nEvents:"):]


def test_describe_pod_of_a_crashing_pod(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=CRASHER)
    wanted = {"Scheduled", "Pulled", "Created", "Started", "BackOff"}
    wait_for(lambda: wanted <= reasons(kubectl, ns, "involvedObject.name=crasher"),
             timeout=45, what="the crashing pod's events")
    shown = describe_events(kubectl, ns, "pod", "crasher")
    assert "Type     Reason     Age" in shown, shown
    assert f"Successfully assigned {ns}/crasher to localsvc" in shown
    assert "default-scheduler" in shown
    assert f'Container image "{DEMO_IMAGE}" already present on machine' in shown
    assert "Created container: app" in shown and "Started container app" in shown
    assert "Back-off restarting failed container app in pod crasher_" in shown
    assert "kubelet" in shown and "Warning  BackOff" in shown
    started = events(kubectl, ns, "involvedObject.name=crasher,reason=Started")
    assert started[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    assert started[0]["source"] == {"component": "kubelet", "host": "localsvc"}
    # Each restart counts on the same Event (client-go's correlation), under one name.
    wait_for(lambda: events(kubectl, ns, "involvedObject.name=crasher,reason=Started")[0]
             ["count"] >= 2, timeout=45, what="a second Started on the same Event")
    assert len(events(kubectl, ns, "involvedObject.name=crasher,reason=Started")) == 1


def test_a_failing_readiness_probe_shows_unhealthy_with_its_output(kubectl: Kubectl,
                                                                   ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=NOT_READY)
    found = wait_for(lambda: events(kubectl, ns, "involvedObject.name=notready,reason=Unhealthy"),
                     timeout=30, what="an Unhealthy event")
    assert found[0]["type"] == "Warning"
    assert found[0]["message"].startswith("Readiness probe failed: ")
    assert found[0]["message"].rstrip() == "Readiness probe failed: warming-up-still"
    shown = describe_events(kubectl, ns, "pod", "notready")
    assert "Warning  Unhealthy" in shown and "warming-up-still" in shown


def test_scale_shows_scaling_and_replicaset_events(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=DEPLOYMENT)
    wait_for(lambda: reasons(kubectl, ns, "involvedObject.kind=Deployment"),
             what="the first ScalingReplicaSet")
    kubectl.run("scale", "-n", ns, "deploy/web", "--replicas=3")
    rs_name = kubectl.json("get", "rs", "-n", ns)["items"][0]["metadata"]["name"]
    wait_for(lambda: any(f"Scaled up replica set {rs_name} from 1 to 3" == e["message"]
                         for e in events(kubectl, ns, "involvedObject.kind=Deployment")),
             what="Scaled up from 1 to 3")
    kubectl.run("scale", "-n", ns, "deploy/web", "--replicas=1")
    wait_for(lambda: "SuccessfulDelete" in reasons(kubectl, ns, "involvedObject.kind=ReplicaSet"),
             what="SuccessfulDelete")
    shown = describe_events(kubectl, ns, "deploy", "web")
    assert f"Scaled up replica set {rs_name} from 0 to 1" in shown, shown
    assert f"Scaled down replica set {rs_name} from 3 to 1" in shown, shown
    assert "deployment-controller" in shown
    shown = describe_events(kubectl, ns, "rs", rs_name)
    assert "SuccessfulCreate" in shown and "Created pod: web-" in shown, shown
    assert "SuccessfulDelete" in shown and "Deleted pod: web-" in shown, shown
    assert "replicaset-controller" in shown


def test_get_events_watch_streams_a_new_event(kubectl: Kubectl, ns: str) -> None:
    stream = kubectl.stream("get", "events", "-n", ns, "--watch")
    try:
        kubectl.run("apply", "-n", ns, "-f", "-", stdin=CRASHER)
        stream.until(lambda lines: any("Scheduled" in line and "pod/crasher" in line
                                       for line in lines), timeout=30,
                     what="the Scheduled event on the watch")
        assert stream.seen[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"], stream.seen
    finally:
        stream.stop()


def test_events_v1_shows_the_same_events(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=CRASHER)
    wait_for(lambda: "Started" in reasons(kubectl, ns, "involvedObject.name=crasher"),
             what="Started")
    core = {e["metadata"]["name"]: e for e in events(kubectl, ns)}
    new = kubectl.json("get", "events.v1.events.k8s.io", "-n", ns)["items"]
    assert new and all(e["apiVersion"] == "events.k8s.io/v1" for e in new)
    for event in new:
        same = core.get(event["metadata"]["name"])
        if same is None:  # recorded between the two lists
            continue
        assert event["regarding"]["name"] == same["involvedObject"]["name"]
        assert event["note"] == same["message"]
        assert event["reportingController"] == same["reportingComponent"]


def test_a_node_port_that_cannot_be_published_shows_an_event(kubectl: Kubectl,
                                                             ns: str) -> None:
    port = free_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        kubectl.run("apply", "-n", ns, "-f", "-", stdin=f"""apiVersion: v1
kind: Service
metadata: {{name: held}}
spec:
  type: NodePort
  selector: {{app: nothing}}
  ports: [{{port: 80, nodePort: {port}}}]
""")
        found = wait_for(lambda: events(kubectl, ns, "involvedObject.kind=Service"),
                         timeout=30, what="an event on the Service")
        assert found[0]["type"] == "Warning"
        assert found[0]["reason"] == "FailedToPublishNodePort"
        assert found[0]["source"]["component"] == "service-controller"
        shown = describe_events(kubectl, ns, "svc", "held")
        assert "FailedToPublishNodePort" in shown, shown
    finally:
        holder.close()
        kubectl.run("delete", "svc", "held", "-n", ns, "--wait=false", check=False)


NEVER_PULLED = pod("absent", "imagePullPolicy: Never", image="localsvc-tests/never-built:0",
                   quick_delete=False)

# A registry on the Docker host's loopback where nothing listens: the pull fails at once,
# and nothing leaves the machine.
UNPULLABLE = pod("unpullable", "imagePullPolicy: IfNotPresent",
                 image="127.0.0.1:1/localsvc-tests/never-built:0", quick_delete=False)
LIVENESS = pod("lively", SLEEPING + """
livenessProbe:
  exec: {command: ["sh", "-c", "echo gone-quiet; exit 1"]}
  periodSeconds: 1
  failureThreshold: 2""")


def test_an_image_that_may_not_be_pulled_shows_warnings(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=NEVER_PULLED)
    wait_for(lambda: {"ErrImageNeverPull", "Failed"} <= reasons(
        kubectl, ns, "involvedObject.name=absent"), what="ErrImageNeverPull")
    shown = describe_events(kubectl, ns, "pod", "absent")
    assert ('Container image "localsvc-tests/never-built:0" is not present with pull policy '
            "of Never") in shown, shown
    assert "Error: ErrImageNeverPull" in shown


def test_a_failed_pull_says_the_docker_error_as_the_kubelet_says_the_runtimes(
        kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=UNPULLABLE)
    failed = wait_for(lambda: [e for e in events(kubectl, ns, "involvedObject.name=unpullable,"
                                                              "reason=Failed")
                               if e["message"].startswith("Failed to pull")],
                      timeout=60, what="the Failed pull event")
    message = failed[0]["message"]
    assert message.startswith('Failed to pull image "127.0.0.1:1/localsvc-tests/never-built:0": ')
    assert "127.0.0.1:1" in message.split('": ', 1)[1], message  # Docker's error names it
    assert "not present locally" not in message and "Build it" not in message, message
    assert "Error: ErrImagePull" in {e["message"] for e in events(
        kubectl, ns, "involvedObject.name=unpullable,reason=Failed")}


def test_a_failing_liveness_probe_kills_with_the_kubelets_words(kubectl: Kubectl,
                                                                ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=LIVENESS)
    killing = wait_for(lambda: events(kubectl, ns, "involvedObject.name=lively,reason=Killing"),
                       timeout=30, what="Killing")
    assert killing[0]["message"] == "Container app failed liveness probe, will be restarted"
    unhealthy = events(kubectl, ns, "involvedObject.name=lively,reason=Unhealthy")
    assert unhealthy[0]["message"].rstrip() == "Liveness probe failed: gone-quiet", unhealthy


def test_deleting_a_pod_records_stopping_its_containers(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=NOT_READY.replace("notready", "doomed"))
    wait_for(lambda: "Started" in reasons(kubectl, ns, "involvedObject.name=doomed"),
             what="Started")
    kubectl.run("delete", "pod", "doomed", "-n", ns, "--wait=false")
    found = wait_for(lambda: events(kubectl, ns, "involvedObject.name=doomed,reason=Killing"),
                     what="Killing")
    assert found[0]["message"] == "Stopping container app"


def test_a_load_balancer_waiting_for_its_port_shows_an_event(kubectl: Kubectl,
                                                             ns: str) -> None:
    port = free_port(20000, 29999)
    services = "\n---\n".join(f"""apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: LoadBalancer
  selector: {{app: nothing}}
  ports: [{{port: {port}}}]""" for name in ("first", "second"))
    try:
        kubectl.run("apply", "-n", ns, "-f", "-", stdin=services)
        found = wait_for(lambda: events(kubectl, ns, "involvedObject.name=second"),
                         timeout=30, what="an event on the waiting LoadBalancer")
        assert found[0]["reason"] == "SyncLoadBalancerFailed" and found[0]["type"] == "Warning"
        assert found[0]["message"].startswith(
            "Error syncing load balancer: failed to ensure load balancer: ")
        assert not events(kubectl, ns, "involvedObject.name=first,type=Warning")
        kubectl.run("delete", "svc", "first", "-n", ns)
        wait_for(lambda: "EnsuredLoadBalancer" in reasons(kubectl, ns,
                                                          "involvedObject.name=second"),
                 timeout=30, what="EnsuredLoadBalancer once the port is free")
    finally:
        kubectl.run("delete", "svc", "first", "second", "-n", ns, "--wait=false", check=False)


@pytest.fixture
def env_name(node_image: str, demo_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = unique_env("ev")
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    try:
        yield name
    finally:
        Environment(name).down()


def test_foreground_up_prints_warning_events(env_name: str, tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(CRASHER)
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "localsvc", "up", "-f", "app.yaml"],
                              cwd=tmp_path, stdout=stdout, stderr=stderr,
                              env=dict(os.environ, LOCALSVC_ENV=env_name, NO_COLOR="1"))
    try:
        warning = ("warning  pod/crasher  BackOff: Back-off restarting failed container app in "
                   "pod crasher_default(")
        # The warning, and the log lines (prefixed; the warnings are not) among them.
        wait_for(lambda: (warning in out.read_text() and "crasher | bye" in out.read_text())
                 or up.poll() is not None, timeout=60, what="the BackOff warning and the logs")
        printed = out.read_text()
        assert warning in printed and "crasher | bye" in printed, (printed, err.read_text())
        assert "Normal" not in printed and "Started" not in printed
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait(timeout=10)


SLEEPER = pod("sleeper", SLEEPING)


def test_a_pod_whose_sandbox_went_while_the_node_was_down_is_not_scheduled_again(
        env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "pod.yaml", SLEEPER)], wait=60)

    def pod_events() -> list[dict[str, Any]]:
        path = with_query(collection_path("Event", "default"),
                          fieldSelector="involvedObject.name=sleeper")
        return list(env.node().get(path)["items"])

    assert [e["reason"] for e in pod_events()].count("Scheduled") == 1
    node = env.docker.containers.get(f"localsvc-{env.name}-node")
    node.stop(timeout=10)
    infra = env.docker.containers.list(all=True, filters={"label": [
        f"{L.ENV}={env.name}", f"{L.ROLE}={L.ROLE_POD_INFRA}", f"{L.NAME}=sleeper"]})
    assert len(infra) == 1
    infra[0].remove(force=True)
    node.start()
    env.ensure()
    env.wait_ready(60)
    # The pod was started again (its Events from before the restart are gone with the node's
    # memory): the kubelet's, but no second Scheduled.
    started = wait_for(lambda: [e for e in pod_events() if e["reason"] == "Started"],
                       timeout=30, what="Started after the restart")
    assert started
    assert "Scheduled" not in {e["reason"] for e in pod_events()}


def test_an_operator_records_events_through_the_api(kubectl: Kubectl, ns: str) -> None:
    """What client-go's EventRecorder does from a pod: create a core/v1 Event, patch its count
    and lastTimestamp (strategic merge); events.k8s.io/v1 creates; kubectl create -f; delete."""
    from kubernetes import client  # the test dependency, imported where it is used
    from kubernetes.client.rest import ApiException

    core = python_client(kubectl.kubeconfig)
    body = {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.181a2b3c4d5e6f70", "namespace": ns},
            "involvedObject": {"kind": "Deployment", "apiVersion": "apps/v1",
                               "namespace": ns, "name": "web"},
            "reason": "Synced", "message": "configuration applied", "type": "Normal",
            "source": {"component": "my-operator"}, "count": 1,
            "firstTimestamp": "2026-12-07T08:00:00Z", "lastTimestamp": "2026-12-07T08:00:00Z"}
    created = core.create_namespaced_event(ns, body)
    assert created.count == 1 and created.metadata.uid and created.metadata.resource_version
    # The recorder's series update (the client sends a dict as a strategic merge patch).
    core.patch_namespaced_event("web.181a2b3c4d5e6f70", ns,
                                {"count": 2, "lastTimestamp": "2026-12-07T08:05:00Z"})
    kubectl.run("patch", "event", "web.181a2b3c4d5e6f70", "-n", ns, "--type", "merge",
                "-p", '{"lastTimestamp": "2026-12-07T08:06:00Z"}')
    patched = core.read_namespaced_event("web.181a2b3c4d5e6f70", ns)
    assert (patched.count, patched.metadata.uid) == (2, created.metadata.uid)
    assert patched.message == "configuration applied"

    events_v1 = client.EventsV1Api(core.api_client)
    events_v1.create_namespaced_event(ns, {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.new-style", "namespace": ns},
        "eventTime": "2026-12-07T08:06:00.000000Z", "reportingController": "my-operator",
        "reportingInstance": "my-operator-0", "action": "Reconcile", "reason": "Scaled",
        "note": "scaled to 3", "type": "Normal",
        "regarding": {"kind": "Deployment", "namespace": ns, "name": "web"}})
    kubectl.run("create", "-n", ns, "-f", "-", stdin=f"""apiVersion: v1
kind: Event
metadata: {{name: web.from-kubectl}}
involvedObject: {{kind: Deployment, namespace: {ns}, name: web}}
reason: Noted
message: written with kubectl
type: Warning
""")
    shown = {e["reason"]: e for e in events(kubectl, ns, "involvedObject.name=web")}
    assert set(shown) == {"Synced", "Scaled", "Noted"}, shown
    assert shown["Scaled"]["message"] == "scaled to 3"
    assert shown["Scaled"]["reportingComponent"] == "my-operator"
    assert (shown["Synced"]["count"], shown["Synced"]["lastTimestamp"]) == (
        2, "2026-12-07T08:06:00Z")

    with pytest.raises(ApiException) as refused:  # the API server's check
        core.create_namespaced_event(ns, {**body, "metadata": {"name": "elsewhere"},
                                          "involvedObject": {"kind": "Pod", "name": "p",
                                                             "namespace": "other"}})
    assert refused.value.status == 422 and "involvedObject.namespace" in refused.value.body
    with pytest.raises(ApiException) as taken:
        core.create_namespaced_event(ns, body)
    assert taken.value.status == 409

    core.delete_namespaced_event("web.181a2b3c4d5e6f70", ns)
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_event("web.181a2b3c4d5e6f70", ns)
    assert gone.value.status == 404
