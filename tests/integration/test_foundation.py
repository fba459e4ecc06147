"""The foundation against the real engine: environments, pods, Deployments, the node."""

from __future__ import annotations

import json
from pathlib import Path

import docker

from localsvc.host.api import Environment
from tests.integration.conftest import (
    DEMO_IMAGE,
    exec_out,
    labelled,
    localsvc,
    unique_env,
    wait_for,
    write,
)

DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
"""


def container_ids(client: docker.DockerClient, env: str) -> set[str]:
    return {c.id for c in client.containers.list(all=True, filters={"label": [f"io.localsvc.env={env}"]})}


def test_up_then_down_leaves_nothing(env: Environment, tmp_path: Path) -> None:
    before = labelled(env.docker, env.name)
    assert before == {"containers": 0, "networks": 0, "volumes": 0}
    manifest = write(tmp_path, "app.yaml", DEPLOYMENT + """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: with-volume}
spec:
  containers:
  - {name: c, image: %s, volumeMounts: [{name: v, mountPath: /cfg}, {name: scratch, mountPath: /tmp/s}]}
  volumes:
  - {name: v, configMap: {name: cfg}}
  - {name: scratch, emptyDir: {}}
""" % DEMO_IMAGE)
    up = localsvc(env, "up", "-d", "-f", str(manifest))
    assert "deployment/web created" in up.stdout
    during = labelled(env.docker, env.name)
    # node + 3 pods x (infra + app) containers; network; state volume + 2 pod volumes + each
    # pod's kube-api-access (service-account token) volume
    assert during == {"containers": 7, "networks": 1, "volumes": 6}
    down = localsvc(env, "down")
    assert "removed" in down.stdout
    assert labelled(env.docker, env.name) == {"containers": 0, "networks": 0, "volumes": 0}


def test_two_environments_side_by_side(node_image: str, demo_image: str, tmp_path: Path) -> None:
    manifest = write(tmp_path, "app.yaml", DEPLOYMENT)
    first = Environment(unique_env("a"), node_image=node_image)
    second = Environment(unique_env("b"), node_image=node_image)
    try:
        first.up([manifest], wait=90)
        second.up([manifest], wait=90)
        a, b = first.info(), second.info()
        assert a.subnet != b.subnet and a.api_url != b.api_url
        assert len(first.get("pods")) == 2 and len(second.get("pods")) == 2
        first.down()
        # Removing one leaves the other untouched.
        assert len(second.get("pods")) == 2
        assert labelled(first.docker, first.name)["containers"] == 0
    finally:
        first.down()
        second.down()


def test_crashing_container_restarts_with_backoff(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "crash.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  containers:
  - name: c
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "echo run; exit 3"]
""")
    env.up([manifest], wait=None)

    def status() -> dict:
        return env.pod("crasher")["status"]["containerStatuses"][0]

    wait_for(lambda: status()["restartCount"] >= 2, timeout=40, what="two restarts")
    s = wait_for(lambda: (st := status()).get("state", {}).get("waiting", {}).get("reason")
                 == "CrashLoopBackOff" and st, timeout=20, what="CrashLoopBackOff")
    assert s["lastState"]["terminated"]["exitCode"] == 3
    assert "back-off" in s["state"]["waiting"]["message"]
    # The back-off grows: 0 s, 10 s, 20 s ... so after ~12 s there are at most 2 restarts.
    assert s["restartCount"] <= 3
    previous = b"".join(env.logs("crasher", previous=True)).decode()
    assert "run" in previous
    table = localsvc(env, "get", "pods").stdout
    assert "CrashLoopBackOff" in table


def test_deleted_deployment_pod_is_replaced(env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", DEPLOYMENT)], wait=90)
    names = {p["metadata"]["name"] for p in env.get("pods")}
    victim = sorted(names)[0]
    assert victim.startswith("web-") and len(victim.split("-")) == 3
    localsvc(env, "delete", "pod", victim)

    def replaced() -> bool:
        pods = [p for p in env.get("pods") if not p["metadata"].get("deletionTimestamp")]
        current = {p["metadata"]["name"] for p in pods}
        return len(current) == 2 and victim not in current
    wait_for(replaced, timeout=30, what="a replacement pod")
    env.wait_ready(60)


def test_containers_of_a_pod_share_localhost(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "pod.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: duo}}
spec:
  containers:
  - name: server
    image: {DEMO_IMAGE}
    args: ["serve", "--port", "9000"]
    env: [{{name: POD_NAME, value: duo-server}}]
  - name: sidecar
    image: {DEMO_IMAGE}
    args: ["tcp-echo", "--port", "9001"]
""")
    env.up([manifest], wait=60)
    fetch = "import urllib.request;print(urllib.request.urlopen('http://localhost:9000/').read().decode())"
    out = wait_for(lambda: _try_exec(env, "duo", "sidecar", "python3", "-c", fetch), timeout=15)
    assert "hello from duo-server" in out
    # Same network namespace, same hostname.
    assert exec_out(env, "duo", "hostname", container="server").strip() == "duo"
    assert exec_out(env, "duo", "hostname", container="sidecar").strip() == "duo"


def _try_exec(env: Environment, pod: str, container: str, *cmd: str) -> str:
    cid = env.container_id(pod, container)
    result = env.docker.containers.get(cid).exec_run(list(cmd))
    return result.output.decode() if result.exit_code == 0 else ""


def test_env_and_files_from_configmap_and_secret(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "cfg.yaml", f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data:
  MODE: dev
  app.properties: |
    color=blue
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
data:
  password: czNjcjN0      # s3cr3t
stringData:
  user: admin
---
apiVersion: v1
kind: Pod
metadata: {{name: reader}}
spec:
  containers:
  - name: c
    image: {DEMO_IMAGE}
    args: ["serve"]
    env:
    - {{name: USER_NAME, valueFrom: {{secretKeyRef: {{name: creds, key: user}}}}}}
    - {{name: MY_POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: MY_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    - {{name: GREETING, value: "mode=$(MODE)"}}
    envFrom:
    - configMapRef: {{name: settings}}
    volumeMounts:
    - {{name: props, mountPath: /etc/props}}
    - {{name: secret, mountPath: /etc/secret}}
  volumes:
  - name: props
    configMap:
      name: settings
      items: [{{key: app.properties, path: conf/app.properties}}]
  - name: secret
    secret: {{secretName: creds}}
""")
    env.up([manifest], wait=60)
    environ = exec_out(env, "reader", "env")
    pod_ip = env.pod("reader")["status"]["podIP"]
    for expected in ("MODE=dev", "USER_NAME=admin", "MY_POD=reader", f"MY_IP={pod_ip}",
                     "GREETING=mode=dev"):
        assert expected in environ.splitlines(), expected
    assert exec_out(env, "reader", "cat", "/etc/props/conf/app.properties") == "color=blue\n"
    assert exec_out(env, "reader", "cat", "/etc/secret/password") == "s3cr3t"
    assert exec_out(env, "reader", "cat", "/etc/secret/user") == "admin"
    # Only the listed item is projected.
    assert "MODE" not in exec_out(env, "reader", "ls", "-R", "/etc/props")
    secret = json.loads(localsvc(env, "get", "secret", "creds", "-o", "json").stdout)
    assert secret["data"] == {"password": "czNjcjN0", "user": "YWRtaW4="}


def test_invalid_manifest_changes_nothing(env: Environment, tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", DEPLOYMENT)
    env.up([good], wait=60)
    before = container_ids(env.docker, env.name)
    objects_before = json.dumps(env.get("deployments"), sort_keys=True)
    bad = write(tmp_path, "bad.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: 5").replace(
        'args: ["serve", "--port", "8080"]',
        'args: ["serve"]\n        ports: [{containerPort: 70000}]'))
    result = localsvc(env, "apply", "-f", str(bad), check=False)
    assert result.returncode == 1
    assert "bad.yaml:" in result.stderr and "containerPort" in result.stderr
    assert "nothing was changed" in result.stderr
    assert container_ids(env.docker, env.name) == before
    assert json.dumps(env.get("deployments"), sort_keys=True) == objects_before


def test_restarted_node_adopts_running_pods(env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", DEPLOYMENT)], wait=60)
    pods_before = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
                   for p in env.get("pods")}
    ids_before = container_ids(env.docker, env.name)
    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(30)
    pods_after = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
                  for p in env.get("pods")}
    assert pods_after == pods_before
    assert container_ids(env.docker, env.name) == ids_before


def test_rolling_update_and_scale(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "app.yaml", DEPLOYMENT)
    env.up([manifest], wait=60)
    old = {p["metadata"]["labels"]["pod-template-hash"] for p in env.get("pods")}
    manifest.write_text(DEPLOYMENT.replace('"8080"]', '"8081"]'))
    result = env.apply([manifest])
    assert [r["action"] for r in result.results] == ["configured"]
    env.wait_ready(90)
    live = [p for p in env.get("pods") if not p["metadata"].get("deletionTimestamp")]
    new = {p["metadata"]["labels"]["pod-template-hash"] for p in live}
    assert len(live) == 2 and new.isdisjoint(old)
    localsvc(env, "scale", "deployment/web", "--replicas", "3")
    env.wait_ready(60)
    deploy = env.get("deployments", "web")[0]
    assert deploy["status"]["readyReplicas"] == 3


def test_init_containers_run_first_and_restart_policy_never(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "job.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: job}}
spec:
  restartPolicy: Never
  initContainers:
  - {{name: first, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo one > /work/order"],
     volumeMounts: [{{name: w, mountPath: /work}}]}}
  - {{name: second, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo two >> /work/order"],
     volumeMounts: [{{name: w, mountPath: /work}}]}}
  containers:
  - {{name: main, image: {DEMO_IMAGE}, command: ["sh", "-c", "cat /work/order; exit 0"],
     volumeMounts: [{{name: w, mountPath: /work}}]}}
  volumes:
  - {{name: w, emptyDir: {{}}}}
""")
    env.up([manifest], wait=None)
    wait_for(lambda: env.pod("job")["status"]["phase"] == "Succeeded", timeout=40, what="Succeeded")
    assert b"".join(env.logs("job")).decode() == "one\ntwo\n"
    assert "Completed" in localsvc(env, "get", "pods").stdout


def test_missing_image_is_reported_on_the_pod(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "pod.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: ghost}
spec:
  containers:
  - {name: c, image: "localsvc-test/does-not-exist:1"}
""")
    env.up([manifest], wait=None)

    def reason() -> str:
        st = env.pod("ghost")["status"]["containerStatuses"][0]["state"]
        return str(st.get("waiting", {}).get("reason", ""))
    wait_for(lambda: reason() in ("ErrImagePull", "ImagePullBackOff"), timeout=20, what="pull error")
    message = env.pod("ghost")["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert "localsvc-test/does-not-exist:1" in message
    result = localsvc(env, "up", "-d", "--wait", "3", "-f", str(manifest), check=False)
    assert result.returncode == 1 and "ghost" in result.stderr


def test_get_json_is_kubernetes_shaped(env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", DEPLOYMENT + """
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
""")], wait=60)
    pods = json.loads(localsvc(env, "get", "pods", "-o", "json").stdout)
    assert pods["kind"] == "List" and len(pods["items"]) == 2
    pod = pods["items"][0]
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].count(".") == 3
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in pod["status"]["conditions"] if c["type"] == "Ready").items()
    assert pod["status"]["containerStatuses"][0]["containerID"].startswith("docker://")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    svc = json.loads(localsvc(env, "get", "svc", "web", "-o", "json").stdout)
    assert svc["kind"] == "Service" and svc["spec"]["ports"][0]["port"] == 80
    assert "web" in localsvc(env, "get", "deploy").stdout
    assert "NAMESPACE" in localsvc(env, "get", "pods", "-A").stdout
