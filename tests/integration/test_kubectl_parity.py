"""kubectl sees what it would see against a v1.32 cluster in the places a test of a single
command would miss: the API server's defaults (as kubectl describe prints them), namespace
lifecycle, force deletion, which kinds carry metadata.generation. One environment for the
module, a namespace per test."""

from __future__ import annotations

import re
import time
import uuid

from tests.integration.conftest import DEMO_IMAGE, wait_for
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    EXAMPLE, Kubectl, apply_example, kubectl, ns, shared_env)


def test_describe_shows_the_api_servers_defaults(kubectl: Kubectl, ns: str) -> None:
    """The API server fills in defaults on every write; kubectl describe prints them."""
    kubectl.run("apply", "-n", ns, "-f", str(EXAMPLE / "backend.yaml"))
    out = kubectl.out("describe", "-n", ns, "deploy/backend")
    for expected in (r"StrategyType:\s+RollingUpdate\n",
                     r"RollingUpdateStrategy:\s+25% max unavailable, 25% max surge\n",
                     r"Port:\s+80/TCP\n", r"Host Port:\s+0/TCP\n",
                     r"Readiness:\s+http-get http://:http/healthz delay=0s timeout=1s period=2s "
                     r"#success=1 #failure=3\n",
                     r"POD_NAME:\s+\(v1:metadata.name\)\n"):
        assert re.search(expected, out), f"{expected!r} not in:\n{out}"
    spec = kubectl.json("get", "deploy", "backend", "-n", ns)["spec"]
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    template = spec["template"]["spec"]
    assert {k: template.get(k) for k in ("restartPolicy", "dnsPolicy", "schedulerName",
                                         "terminationGracePeriodSeconds")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30}
    container = template["containers"][0]
    assert {k: container.get(k) for k in ("imagePullPolicy", "terminationMessagePath",
                                          "terminationMessagePolicy")} == {
        "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"}


def test_apply_into_a_missing_namespace_is_refused(kubectl: Kubectl) -> None:
    """As a cluster (NamespaceLifecycle admission); `localsvc apply` creates it and warns."""
    client = str(EXAMPLE / "client.yaml")
    missing = kubectl.run("apply", "-n", "no-such-namespace", "-f", client, check=False)
    if missing.returncode == 0:  # the pod was made: remove it before failing
        kubectl.run("delete", "-n", "no-such-namespace", "pod/client", "--wait=false")
    assert (missing.returncode, missing.stderr.strip()) == (1, (
        f'Error from server (NotFound): error when creating "{client}": '
        'namespaces "no-such-namespace" not found'))


def test_delete_namespace_returns_once_its_contents_are_gone(kubectl: Kubectl) -> None:
    """A deleted namespace is Terminating until everything in it is deleted; `kubectl delete`
    waits for that by default."""
    client = str(EXAMPLE / "client.yaml")
    name = kubectl.namespace(f"doomed-{uuid.uuid4().hex[:4]}")
    kubectl.run("apply", "-n", name, "-f", client)
    kubectl.run("wait", "-n", name, "--for=condition=Ready", "pod/client", "--timeout=60s",
                request_timeout=None, timeout=70)
    assert kubectl.out("delete", "namespace", name, timeout=90) == f'namespace "{name}" deleted\n'
    left = kubectl.run("get", "pods", "-n", name, check=False)
    assert left.stdout == "" and left.stderr == f"No resources found in {name} namespace.\n"


def test_force_delete_removes_the_pod_at_once(kubectl: Kubectl, ns: str) -> None:
    """gracePeriodSeconds=0: the API server removes the object without waiting for the
    kubelet, whether its containers are still starting, running, or it was relabelled; the
    name is free again."""

    def force_delete() -> None:
        out = kubectl.run("delete", "-n", ns, "pod", "client", "--grace-period=0", "--force")
        assert out.stdout == 'pod "client" force deleted\n'
        assert out.stderr.startswith("Warning: Immediate deletion does not wait for confirmation")
        gone = kubectl.run("get", "-n", ns, "pod", "client", check=False)
        assert (gone.returncode, gone.stdout, gone.stderr.strip()) == (
            1, "", 'Error from server (NotFound): pods "client" not found')

    client = str(EXAMPLE / "client.yaml")
    assert kubectl.out("apply", "-n", ns, "-f", client) == "pod/client created\n"
    force_delete()  # still starting
    assert kubectl.out("apply", "-n", ns, "-f", client) == "pod/client created\n"
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/client", "--timeout=60s",
                request_timeout=None, timeout=70)
    force_delete()  # running
    # A relabelled pod keeps running (same uid); it too goes at once.
    assert kubectl.out("apply", "-n", ns, "-f", client) == "pod/client created\n"
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/client", "--timeout=60s",
                request_timeout=None, timeout=70)
    kubectl.run("label", "-n", ns, "pod", "client", "tier=edge")
    force_delete()


def test_generation_only_where_a_cluster_sets_it(kubectl: Kubectl, ns: str) -> None:
    """In v1.32 the strategies of Deployments and ReplicaSets set metadata.generation; those of
    Pods (from v1.33 on), Services, Nodes, Endpoints, ConfigMaps and Namespaces do not."""
    apply_example(kubectl, ns)
    items = kubectl.json("get", "deploy,rs,pods,svc,ep,endpointslices", "-n", ns)["items"]
    items += [kubectl.json("get", "node", "localsvc"), kubectl.json("get", "ns", ns)]
    generations = {f"{o['kind']}/{o['metadata']['name']}": o["metadata"].get("generation")
                   for o in items}
    with_one = {k for k, g in generations.items() if g is not None}
    assert {k.split("/")[0] for k in with_one} == {"Deployment", "ReplicaSet"}, generations


STUBBORN = """apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
"""


def test_a_deleted_namespace_is_terminating_while_its_pods_stop(kubectl: Kubectl) -> None:
    """DELETE of a namespace answers at once (the namespace controller empties it in the
    background): phase Terminating, no new content, gone once its pods are."""
    name = kubectl.namespace(f"slow-{uuid.uuid4().hex[:4]}")
    kubectl.run("apply", "-n", name, "-f", "-", stdin=STUBBORN % DEMO_IMAGE)
    kubectl.run("wait", "-n", name, "--for=condition=Ready", "pod/stubborn", "--timeout=60s",
                request_timeout=None, timeout=70)
    try:
        started = time.monotonic()
        kubectl.run("delete", "namespace", name, "--wait=false", timeout=40)
        assert time.monotonic() - started < 5, "DELETE waited for the namespace's pods"
        assert kubectl.out("get", "namespace", name, "-o", "jsonpath={.status.phase}") == \
            "Terminating"
        refused = kubectl.run("create", "configmap", "late", "-n", name, check=False)
        assert (refused.returncode, refused.stderr.strip()) == (1, (
            f'error: failed to create configmap: configmaps "late" is forbidden: unable to '
            f"create new content in namespace {name} because it is being terminated"))
    finally:
        kubectl.run("delete", "pod", "stubborn", "-n", name, "--grace-period=0", "--force",
                    check=False)
    wait_for(lambda: kubectl.run("get", "namespace", name, check=False).returncode == 1,
             timeout=20, what="the namespace gone once its pod is")
