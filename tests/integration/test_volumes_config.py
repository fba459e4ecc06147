"""subPath, subPathExpr, readOnly, defaultMode and live ConfigMap/Secret updates against the real
engine (issue 14): a ConfigMap changed with `localsvc apply` or kubectl reaches the mounted file
within seconds while a subPath mount keeps its content, as in Kubernetes; optional ConfigMaps
appear and disappear; a subPath through a symlink out of the volume is refused; a pod naming a
missing claim, or one not bound, waits."""

from __future__ import annotations

import sys
from functools import partial
import time
from pathlib import Path

from localsvc.runtime.claims import claim_volume_name

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, exec_out, localsvc, wait_for, write  # noqa: E402
from kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: E402,F401


def _config(ns: str, value: str) -> str:
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg, namespace: {ns}}}\n"
            f"data: {{app.conf: {value}, other: x}}\n")


def _pod(ns: str, src: Path) -> str:
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: cfgpod, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: [sleep, "600"]
    env:
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    volumeMounts:
    - {{name: cfg, mountPath: /etc/cfg}}
    - {{name: cfg, mountPath: /etc/app.conf, subPath: app.conf}}
    - {{name: sec, mountPath: /etc/pw, subPath: creds/pw}}
    - {{name: sec, mountPath: /etc/sec}}
    - {{name: scratch, mountPath: /data/one, subPath: one}}
    - {{name: scratch, mountPath: /data/all}}
    - {{name: src, mountPath: /work, subPathExpr: $(POD_NAME)}}
    - {{name: opt, mountPath: /etc/opt}}
  volumes:
  - {{name: cfg, configMap: {{name: cfg, defaultMode: 0440}}}}
  - name: sec
    secret:
      secretName: sec
      items: [{{key: pw, path: creds/pw, mode: 0400}}]
  - {{name: scratch, emptyDir: {{}}}}
  - {{name: src, hostPath: {{path: {src}, type: Directory}}}}
  - {{name: opt, configMap: {{name: later, optional: true}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: sec, namespace: {ns}}}
stringData: {{pw: s3cret}}
---
{_config(ns, "v1")}"""


def _claim_pod(ns: str) -> str:
    """Pod `db` mounting claim `data` at /var/lib/data."""
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: db, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: [sleep, "600"]
    volumeMounts: [{{name: data, mountPath: /var/lib/data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data}}}}]
"""


def first_container_waiting(kubectl: Kubectl, ns: str, pod: str) -> dict[str, str]:
    """The first container's `state.waiting` (reason, message) as kubectl gets it; {} if none."""
    obj = kubectl.json("get", "pod", pod, "-n", ns, "-o", "json")
    statuses = (obj.get("status") or {}).get("containerStatuses") or [{}]
    return dict((statuses[0].get("state") or {}).get("waiting") or {})


def test_subpaths_modes_and_live_updates(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    kubectl.run("apply", "-f", str(write(tmp_path, "pod.yaml", _pod(ns, src))))
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/cfgpod", "--timeout=60s")
    env = kubectl.env

    def sh(script: str) -> str:
        return exec_out(env, "cfgpod", "sh", "-c", script, namespace=ns)

    assert sh("cat /etc/cfg/app.conf /etc/app.conf") == "v1v1"
    # The kubelet's layout: visible names are links through ..data to a timestamped dir.
    assert sh("readlink /etc/cfg/app.conf") == "..data/app.conf\n"
    assert sh("readlink /etc/cfg/..data").startswith("..20")
    # defaultMode and an item's mode, as `stat` shows them through the links.
    assert sh("stat -L -c %a /etc/cfg/app.conf /etc/pw") == "440\n400\n"
    assert sh("cat /etc/pw; cat /etc/sec/creds/pw") == "s3crets3cret"
    # emptyDir subPath: the subdirectory of the one volume.
    sh("echo hi > /data/one/f")
    assert sh("cat /data/all/one/f") == "hi\n"
    # hostPath subPathExpr: $(POD_NAME) made on the host, shared both ways.
    sh("echo from-pod > /work/x")
    assert (src / "cfgpod" / "x").read_text() == "from-pod\n"
    # Read-only API data volumes, as the kubelet mounts them.
    cid = env.container_id("cfgpod", None, ns)
    refused = env.docker.containers.get(cid).exec_run(["sh", "-c", "echo x > /etc/cfg/new"])
    assert refused.exit_code != 0 and b"Read-only file system" in refused.output

    # A change with `localsvc apply` reaches the file; the subPath mount keeps its content.
    began = time.monotonic()
    localsvc(env, "apply", "-f", str(write(tmp_path, "cfg2.yaml", _config(ns, "v2"))))
    wait_for(lambda: sh("cat /etc/cfg/app.conf") == "v2", timeout=10, what="v2 in the pod")
    seconds = time.monotonic() - began
    assert sh("cat /etc/app.conf") == "v1"
    print(f"ConfigMap change via localsvc apply seen in the pod after {seconds:.2f}s")
    # ... and with kubectl.
    kubectl.run("apply", "-f", str(write(tmp_path, "cfg3.yaml", _config(ns, "v3"))))
    applied = time.monotonic()
    wait_for(lambda: sh("cat /etc/cfg/app.conf") == "v3", timeout=10, what="v3 in the pod",
             interval=0.05)
    print(f"ConfigMap change via kubectl seen {time.monotonic() - applied:.2f}s after it returned")
    assert sh("cat /etc/app.conf") == "v1"
    assert sh("ls /etc/cfg/..data/ | sort") == "app.conf\nother\n"

    # An optional ConfigMap that appears, then goes.
    assert sh("ls /etc/opt") == ""
    kubectl.run("create", "configmap", "later", "-n", ns, "--from-literal=k=here")
    wait_for(lambda: sh("cat /etc/opt/k 2>/dev/null || true") == "here", timeout=10,
             what="the optional ConfigMap's file")
    kubectl.run("delete", "configmap", "later", "-n", ns)
    wait_for(lambda: sh("ls /etc/opt") == "", timeout=10, what="the file gone")


def test_subpath_symlink_out_of_the_volume_is_refused(kubectl: Kubectl, ns: str,
                                                      tmp_path: Path) -> None:
    pod = f"""apiVersion: v1
kind: Pod
metadata: {{name: escape, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: plant
    image: {DEMO_IMAGE}
    command: [sh, -c, "ln -s / /data/esc"]
    volumeMounts: [{{name: scratch, mountPath: /data}}]
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: [sleep, "600"]
    volumeMounts: [{{name: scratch, mountPath: /host, subPath: esc}}]
  volumes: [{{name: scratch, emptyDir: {{}}}}]
"""
    kubectl.run("apply", "-f", str(write(tmp_path, "escape.yaml", pod)))

    waiting = partial(first_container_waiting, kubectl, ns, "escape")

    message = wait_for(lambda: waiting().get("reason") == "CreateContainerConfigError"
                       and waiting()["message"], timeout=30, what="the refusal")
    assert 'failed to prepare subPath for volumeMount "scratch" of container "app"' in message
    assert "leads outside the volume" in message


def test_pod_waits_for_its_claim(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", str(write(tmp_path, "db.yaml", _claim_pod(ns))))

    waiting = partial(first_container_waiting, kubectl, ns, "db")

    wait_for(lambda: waiting().get("message") == 'persistentvolumeclaim "data" not found',
             timeout=30, what="the pod waiting for its claim")
    assert waiting()["reason"] == "CreateContainerConfigError"
    assert kubectl.json("get", "pod", "db", "-n", ns, "-o", "json")["status"]["phase"] == \
        "Pending"


def test_pod_on_a_claim_that_stays_pending_waits_and_gets_no_volume(kubectl: Kubectl, ns: str,
                                                                    tmp_path: Path) -> None:
    # A claim the binder cannot bind (an unknown class) keeps its pod waiting in the
    # scheduler's words; the pod side makes no Docker volume for it (review of issue 14).
    manifests = f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {ns}}}
spec:
  storageClassName: fast
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
""" + _claim_pod(ns)
    kubectl.run("apply", "-f", str(write(tmp_path, "pending.yaml", manifests)))

    waiting = partial(first_container_waiting, kubectl, ns, "db")

    wait_for(lambda: waiting().get("message") == "pod has unbound immediate "
             "PersistentVolumeClaims", timeout=30, what="the pod waiting for the binding")
    time.sleep(1)  # (a step more: the pod still waits)
    pod = kubectl.json("get", "pod", "db", "-n", ns, "-o", "json")
    assert pod["status"]["phase"] == "Pending"
    claim = kubectl.json("get", "pvc", "data", "-n", ns, "-o", "json")
    assert claim["status"]["phase"] == "Pending"
    volume = claim_volume_name(kubectl.env.name, ns, "data")
    assert not kubectl.env.docker.volumes.list(filters={"name": volume})


def test_sub_path_expr_of_an_unset_variable_fails_its_container(kubectl: Kubectl, ns: str,
                                                                tmp_path: Path) -> None:
    pod = f"""apiVersion: v1
kind: Pod
metadata: {{name: expr, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: [sleep, "600"]
    env: [{{name: IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}]
    volumeMounts:
    - {{name: scratch, mountPath: /by-ip, subPathExpr: $(IP)}}
    - {{name: scratch, mountPath: /nope, subPathExpr: $(UNSET)}}
  volumes: [{{name: scratch, emptyDir: {{}}}}]
"""
    kubectl.run("apply", "-f", str(write(tmp_path, "expr.yaml", pod)))

    waiting = partial(first_container_waiting, kubectl, ns, "expr")

    message = wait_for(lambda: waiting().get("reason") == "CreateContainerConfigError"
                       and waiting()["message"], timeout=30, what="the unset variable")
    assert "missing value for UNSET" in message
    events = kubectl.json("get", "events", "-n", ns, "-o", "json")["items"]
    assert any(e["reason"] == "Failed" and "missing value for UNSET" in e["message"]
               for e in events)
