"""The node never crash-loops on its own state (issue 10, cases 1 and 10).

A stored object it cannot serve (an Endpoints address with an IPv6 zone ID, saved before
validation rejected it) is skipped and reported while everything else keeps answering; a
corrupt state file is set aside and reported; a large apply never delays DNS answers.
Real engine, real node image, real DNS packets."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import docker
from dnslib import QTYPE, DNSRecord

from localsvc.host.api import Environment
from localsvc.runtime import environment as envrt
from tests.integration.conftest import DEMO_IMAGE, localsvc, wait_for, write

STATE = envrt.STATE_DIR + "/state.json"


def manifests(node_image: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: DEMO_ACCESS_LOG, value: "0"}}]
        ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: toolbox}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: tools, image: {node_image}, command: ["sleep", "infinity"]}}
---
apiVersion: v1
kind: Service
metadata: {{name: legacy}}
spec:
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: legacy}}
subsets: [{{addresses: [{{ip: 192.0.2.10}}], ports: [{{name: http, port: 80}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: peers}}
spec:
  clusterIP: None
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: peers}}
subsets: [{{addresses: [{{ip: 192.0.2.11}}], ports: [{{name: http, port: 80}}]}}]
"""


def in_volume(env: Environment, node_image: str, code: str) -> str:
    """Run Python in a throw-away container holding the environment's state volume."""
    out = env.docker.containers.run(
        node_image, ["-c", code], entrypoint="python3", remove=True,
        volumes={envrt.state_volume_name(env.name): {"bind": envrt.STATE_DIR, "mode": "rw"}})
    return bytes(out).decode()


def with_stopped_node(env: Environment, change: Any) -> docker.models.containers.Container:
    """Stop the node, run change(), start it again and wait until it answers (or fail fast
    when it exits: the crash loop)."""
    node = env.docker.containers.get(envrt.node_name(env.name))
    node.stop(timeout=10)
    change()
    node.start()
    envrt.wait_healthy(env.docker, env.name, timeout=60)
    return node


def assert_stays_up(node: docker.models.containers.Container, seconds: float = 6.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        node.reload()
        assert node.status == "running", node.logs(tail=40).decode(errors="replace")
        assert node.attrs["RestartCount"] == 0, node.logs(tail=40).decode(errors="replace")
        time.sleep(0.5)


def fetch(env: Environment, url: str) -> str:
    cid = env.container_id("toolbox")
    code = ("import urllib.request; "
            f"print(urllib.request.urlopen({url!r}, timeout=3).read().decode())")
    result = env.docker.containers.get(cid).exec_run(["python3", "-c", code])
    return str(result.output.decode(errors="replace"))


def test_stored_bad_endpoints_address_is_skipped_and_reported(
        env: Environment, node_image: str, tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", manifests(node_image))], wait=120)
    web_ip = env.get("svc", "web")[0]["spec"]["clusterIP"]

    def store_bad_addresses() -> None:
        # As an older node saved them: before validation rejected such addresses.
        in_volume(env, node_image, f"""
import json
state = json.load(open({STATE!r}))
for name, ip in (("legacy", "fd00::1%x"), ("peers", "fd00::1")):
    state["objects"]["Endpoints/default/" + name]["subsets"][0]["addresses"][0]["ip"] = ip
json.dump(state, open({STATE!r}, "w"))
""")

    node = with_stopped_node(env, store_bad_addresses)
    assert_stays_up(node)
    # Everything else is served: DNS and the ClusterIP of the good Service.
    answer = wait_for(lambda: env.dns("web.default.svc.cluster.local")["answer"], 30,
                      what="web in DNS")
    assert web_ip in " ".join(answer)
    assert "hello from web-" in wait_for(lambda: fetch(env, f"http://{web_ip}/"), 30,
                                         what="web by ClusterIP")
    assert "hello from web-" in fetch(env, "http://web.default.svc.cluster.local/")
    # The bad objects are named, with what is wrong, in `localsvc status` and on the Service.
    status = localsvc(env, "status").stdout
    assert "Endpoints/default/legacy" in status and "fd00::1%x" in status, status
    assert "Endpoints/default/peers" in status, status
    legacy = env.get("svc", "legacy")[0]
    assert any(c["type"] == "localsvc.io/Served" and c["status"] == "False"
               for c in legacy["status"].get("conditions") or []), legacy
    # The node log says it too.
    assert "fd00::1%x" in node.logs(tail=200).decode(errors="replace")


def test_bad_apply_is_a_clear_error_or_a_reported_object(
        env: Environment, node_image: str, tmp_path: Path) -> None:
    """Applying such an address answers a message (validation) or succeeds and reports it; never
    a bare "Internal Server Error", and the node keeps serving."""
    env.up([write(tmp_path, "app.yaml", manifests(node_image))], wait=120)
    bad = write(tmp_path, "bad.yaml", """
apiVersion: v1
kind: Endpoints
metadata: {name: legacy}
subsets: [{addresses: [{ip: "fd00::1%x"}], ports: [{name: http, port: 80}]}]
""")
    result = localsvc(env, "apply", "-f", str(bad), check=False)
    output = result.stdout + result.stderr
    assert "Internal Server Error" not in output, output
    if result.returncode == 0:
        assert "Endpoints/default/legacy" in localsvc(env, "status").stdout
    else:
        assert "fd00::1%x" in output and "legacy" in output, output
    node = env.docker.containers.get(envrt.node_name(env.name))
    assert_stays_up(node, 3)
    assert env.dns("web.default.svc.cluster.local")["answer"]


def test_corrupt_state_file_is_quarantined_and_reported(
        env: Environment, node_image: str, tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", manifests(node_image))], wait=120)
    garbage = '{"objects": {"Service/default/web": {"kind": "Serv'
    node = with_stopped_node(env, lambda: in_volume(
        env, node_image, f"open({STATE!r}, 'w').write({garbage!r})"))
    assert_stays_up(node)
    status = localsvc(env, "status").stdout
    assert "error: the state file" in status and "state.json.corrupt-" in status, status
    copies = json.loads(in_volume(env, node_image, f"""
import glob, json
print(json.dumps({{p: open(p).read() for p in glob.glob({STATE!r} + ".corrupt-*")}}))
"""))
    assert list(copies.values()) == [garbage]
    assert next(iter(copies)) in status
    assert "state.json.corrupt-" in node.logs(tail=200).decode(errors="replace")
    # The node works: a new apply is served.
    env.apply([write(tmp_path, "again.yaml", manifests(node_image))], wait=120)
    assert env.dns("web.default.svc.cluster.local")["answer"]


def dns_latencies(node_ip: str, stop: threading.Event, out: list[float]) -> None:
    """Ask the node's DNS server directly (as a pod would), every 10 ms, until `stop`."""
    query = DNSRecord.question("kube-dns.kube-system.svc.cluster.local", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        while not stop.is_set():
            started = time.monotonic()
            sock.sendto(query.pack(), (node_ip, 53))
            try:
                reply = DNSRecord.parse(sock.recv(4096))
            except TimeoutError:
                out.append(float("inf"))  # no answer at all: fails the test
                continue
            answered = bool(reply.rr) and reply.rr[0].rtype == QTYPE.A
            out.append(time.monotonic() - started if answered else float("inf"))
            time.sleep(0.01)


def test_dns_answers_quickly_during_a_large_apply(env: Environment, tmp_path: Path) -> None:
    env.ensure()
    node_ip = env.info().node_ip
    objects = [{"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"cm-{n}", "labels": {"app": "bulk", "n": str(n)}},
                "data": {f"key-{k}": "x" * 100 for k in range(10)}} for n in range(3000)]
    body = {"manifests": [{"obj": o, "file": "bulk.yaml", "line": 1} for o in objects]}
    baseline: list[float] = []
    during: list[float] = []
    # A short baseline first (also warms the path), then the same while the apply runs.
    stop_baseline = threading.Event()
    probe = threading.Thread(target=dns_latencies, args=(node_ip, stop_baseline, baseline))
    probe.start()
    time.sleep(0.5)
    stop_baseline.set()
    probe.join(5)
    stop_during = threading.Event()
    probe = threading.Thread(target=dns_latencies, args=(node_ip, stop_during, during))
    probe.start()
    started = time.monotonic()
    try:
        results = env.node().post("/v1/apply", body)["results"]
    finally:
        apply_seconds = time.monotonic() - started
        stop_during.set()
        probe.join(5)
    assert len(results) == 3000
    during.sort()
    print(f"apply of {len(objects)} ConfigMaps ({len(json.dumps(body)) // 1024} KiB): "
          f"{apply_seconds:.2f} s; DNS during it: {len(during)} answers, median "
          f"{during[len(during) // 2] * 1000:.1f} ms, max {during[-1] * 1000:.1f} ms "
          f"(baseline max {max(baseline) * 1000:.1f} ms)")
    assert len(during) >= 10
    # Before the fix the loop parsed, validated and saved the whole body: every query waited
    # for all of it (over a second here). Now 9 in 10 answers come within 100 ms and none
    # waits long; the margin on the worst one is for this shared machine's own hiccups (its
    # baseline worst case reaches tens of milliseconds with no apply at all).
    assert during[int(len(during) * 0.9)] < 0.1, during[-5:]
    assert during[-1] < 0.25, during[-5:]
