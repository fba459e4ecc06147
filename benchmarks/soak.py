"""Soak: many cycles of up / apply / scale / kill a pod / kill the node / down on one environment
name, plus malformed DNS packets sent to the cluster DNS from a pod of the environment; counts
what a long day of faults would leave behind.

    python benchmarks/soak.py --cycles 100 [--dns-packets 100000]

Per run: Docker objects labelled io.localsvc.* left after each `down` (containers, networks,
volumes), applied objects lost across a node kill, node restarts nobody asked for, the node's
peak memory (its cgroup's memory.peak, read before every kill and `down`), and the time from
`docker kill` of the node until the ClusterIP Service answers a client pod again. The malformed
packets are spread over the cycles; DNS must still answer after each batch. Traffic goes only to
containers this script creates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, wait_until  # noqa: E402

from localsvc.host.api import Environment  # noqa: E402
from localsvc.runtime import environment as envrt
from localsvc.runtime import labels as L
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

DEMO = "localsvc-examples/demo:1"
POLL = 0.2  # seconds between checks: light on the node whose memory this soak measures

BACKEND = """
apiVersion: v1
kind: Service
metadata: {{name: backend}}
spec:
  selector: {{app: backend}}
  ports: [{{port: 80}}]
---
apiVersion: apps/v1
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
      - name: web
        image: {demo}
        imagePullPolicy: Never
        env: [{{name: DEMO_ACCESS_LOG, value: "0"}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 80}}, periodSeconds: 1}}
"""

# The client pod requests the ClusterIP every 0.1 s and logs `<epoch> <1|0>`.
CLIENT = """
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: watch
    image: {node}
    command: ["python3", "-u", "-c", {script}]
"""
WATCH = """
import os, time, urllib.request
url = "http://%s/" % os.environ["BACKEND_SERVICE_HOST"]
while True:
    began = time.time()
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            ok = response.status == 200
    except Exception:
        ok = False
    print("%.3f %d" % (began, ok), flush=True)
    time.sleep(0.1)
"""
EXTRA = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: extra-{n}}}\ndata: {{cycle: '{n}'}}\n"

# Malformed DNS over UDP: random bytes, truncated headers, labels longer than the packet,
# compression pointers looping on themselves, huge counts; then one real query must be answered.
MALFORMED = r"""
import os, random, socket, struct, sys
from dnslib import DNSRecord
server = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
count = int(sys.argv[1])
rng = random.Random(count)
def packet(i):
    kind = i % 5
    if kind == 0:
        return os.urandom(rng.randrange(0, 600))
    if kind == 1:
        return os.urandom(rng.randrange(0, 12))
    header = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, rng.randrange(1, 65535), 0, 0, 0)
    if kind == 2:
        return header + bytes([63]) + b"a" * rng.randrange(0, 20)
    if kind == 3:
        return header + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    return header + b"\x03www" + os.urandom(rng.randrange(0, 40))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setblocking(False)
sent = 0
for i in range(count):
    try:
        sock.sendto(packet(i), (server, 53))
        sent += 1
    except BlockingIOError:
        pass
# A resolver retries: the socket buffer may still be full of garbage when the flood ends.
import time
began = time.monotonic()
for attempt in range(10):
    try:
        reply = DNSRecord.parse(DNSRecord.question("backend.default.svc.cluster.local").send(
            server, 53, timeout=1))
        break
    except socket.timeout:
        continue
else:
    raise SystemExit("no answer within 10 attempts")
print(sent, len(reply.rr), round(time.monotonic() - began, 3))
"""


@dataclass
class Figures:
    leaked: dict[str, int] = field(default_factory=lambda: {"containers": 0, "networks": 0,
                                                            "volumes": 0})
    lost_objects: int = 0
    unplanned_restarts: int = 0
    peak_memory: int = 0
    answer_after_kill: list[float] = field(default_factory=list)
    node_back_after_kill: list[float] = field(default_factory=list)
    restarted_by_policy: int = 0
    dns_sent: int = 0
    dns_failures: int = 0
    dns_answer_after: list[float] = field(default_factory=list)
    cycle_seconds: list[float] = field(default_factory=list)


def labelled(client: docker.DockerClient, env: str) -> dict[str, int]:
    f = L.env_filter(env)
    return {"containers": len(client.api.containers(all=True, filters=f)),
            "networks": len(client.api.networks(filters=f)),
            "volumes": len(client.api.volumes(filters=f).get("Volumes") or [])}


def object_keys(env: Environment) -> set[str]:
    return {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            for kind in ("deploy", "svc", "cm", "ns") for o in env.get(kind, namespace=None)}


def ready(env: Environment, prefix: str) -> int:
    return sum(1 for p in env.get("pods") if p["metadata"]["name"].startswith(prefix) and
               any(c["type"] == "Ready" and c["status"] == "True"
                   for c in p["status"].get("conditions") or []))


def node_peak_memory(node: docker.models.containers.Container) -> int:
    """The node cgroup's peak memory: cgroup v2 memory.peak or v1 max_usage_in_bytes (else the
    current use, sampled)."""
    for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",
                 "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes"):
        result = node.exec_run(["cat", path])
        if result.exit_code == 0:
            return int(result.output.decode().strip())
    return 0


def samples(env: Environment, since: float) -> list[tuple[float, bool]]:
    cid = env.container_id("client")
    found = []
    for line in env.docker.api.logs(cid, since=int(since) - 1).decode().splitlines():
        at, _, ok = line.partition(" ")
        if float(at) >= since:
            found.append((float(at), ok == "1"))
    return found


def outage_after(env: Environment, killed_at: float, back_at: float, timeout: float = 60) -> float:
    """Seconds from the kill until the Service answered the client pod again: the start of the
    first successful request after the last failed one (0 when none failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = samples(env, killed_at)
        failed = [at for at, ok in seen if not ok]
        last_failure = max(failed, default=killed_at)
        answered = [at for at, ok in seen if ok and at > last_failure]
        # Settled: answers for 2 s after the node was back, and after the last failure.
        if answered and answered[-1] - max(last_failure, back_at) > 2:
            return answered[0] - killed_at if failed else 0.0
        time.sleep(0.2)
    raise TimeoutError("the Service did not answer after the node kill")


def cycle(env: Environment, files: Path, n: int, dns_packets: int, figures: Figures) -> None:
    client = env.docker
    env.up([files / "backend.yaml"], wait=180)
    env.apply([files / "client.yaml"], wait=60)
    (files / "extra.yaml").write_text(EXTRA.format(n=n))
    env.apply([files / "extra.yaml"])
    env.scale("backend", 3)
    wait_until(lambda: ready(env, "backend-") == 3, 60, "3 ready backends", POLL)
    # Kill one pod's app container: the kubelet logic restarts it.
    victim = next(p["metadata"]["name"] for p in env.get("pods")
                  if p["metadata"]["name"].startswith("backend-"))
    client.containers.get(env.container_id(victim, "web")).kill()
    wait_until(lambda: ready(env, "backend-") == 3, 60, "the killed pod to be ready again",
               POLL)
    if dns_packets:
        pod = client.containers.get(env.container_id("client"))
        result = pod.exec_run(["python3", "-c", MALFORMED, str(dns_packets)])
        fields = result.output.decode(errors="replace").split()
        if result.exit_code == 0 and len(fields) == 3 and fields[1] != "0":
            figures.dns_sent += int(fields[0])
            figures.dns_answer_after.append(float(fields[2]))
        else:
            figures.dns_failures += 1
            print(f"cycle {n + 1}: DNS after {dns_packets} malformed packets: exit "
                  f"{result.exit_code}: {result.output.decode(errors='replace')[-500:]}",
                  file=sys.stderr)
    # Kill the node: measure how soon the Service answers; nothing applied may be lost.
    wait_until(lambda: any(line.endswith(" 1") for line in client.api.logs(
        env.container_id("client"), tail=5).decode().splitlines()), 30, "the client's answers",
        POLL)
    before = object_keys(env)
    node = client.containers.get(envrt.node_name(env.name))
    figures.peak_memory = max(figures.peak_memory, node_peak_memory(node))
    restarts_before = int(node.attrs["RestartCount"])
    killed_at = time.time()
    node.kill()
    planned = 1
    try:
        wait_until(lambda: client.containers.get(node.id).status == "running", 2,
                   "the node's restart", POLL)
        restart_at = killed_at
    except TimeoutError:
        planned = 0  # not restarted by its policy: `up` starts it, as a user would
        restart_at = time.time()
    figures.restarted_by_policy += planned
    env._node = None
    env.ensure()
    back_at = time.time()
    figures.node_back_after_kill.append(back_at - restart_at)
    outage = outage_after(env, killed_at, back_at)
    figures.answer_after_kill.append(max(0.0, outage - (restart_at - killed_at)))
    figures.lost_objects += len(before - object_keys(env))
    node.reload()
    figures.unplanned_restarts += max(0, int(node.attrs["RestartCount"]) - restarts_before - planned)
    figures.peak_memory = max(figures.peak_memory, node_peak_memory(node))
    env.down()
    for kind, count in labelled(client, env.name).items():
        figures.leaked[kind] += count


def report(figures: Figures, cycles: int, dns_packets: int) -> None:
    answers = figures.answer_after_kill or [float("nan")]
    back = figures.node_back_after_kill or [float("nan")]
    rows = [
        ("cycles (up/apply/scale/kill pod/kill node/down)", f"{cycles}"),
        ("leaked containers / networks / volumes",
         "{containers} / {networks} / {volumes}".format(**figures.leaked)),
        ("applied objects lost across node kills", f"{figures.lost_objects}"),
        ("node restarts nobody asked for", f"{figures.unplanned_restarts}"),
        ("node peak memory (cgroup)", f"{figures.peak_memory / 2**20:.0f} MiB"),
        ("node kills restarted by the restart policy (else by `up`)",
         f"{figures.restarted_by_policy} / {len(figures.node_back_after_kill)}"),
        ("node API answers after its restart began, median / max",
         f"{statistics.median(back):.2f} s / {max(back):.2f} s"),
        ("Service answers after the node's restart began, median / max",
         f"{statistics.median(answers):.2f} s / {max(answers):.2f} s"),
        ("malformed DNS packets sent / asked", f"{figures.dns_sent} / {dns_packets}"),
        ("batches after which DNS did not answer (10 tries of 1 s)", f"{figures.dns_failures}"),
        ("DNS answers after a batch ends, max",
         f"{max(figures.dns_answer_after or [float('nan')]):.2f} s"),
        ("cycle time, median", f"{statistics.median(figures.cycle_seconds or [0]):.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--dns-packets", type=int, default=100_000,
                        help="malformed DNS packets in all, spread over the cycles")
    args = parser.parse_args()
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", DEMO, lambda m: None)
    name = f"soak{uuid.uuid4().hex[:6]}"
    figures = Figures()
    with TemporaryDirectory() as tmp:
        files = Path(tmp)
        (files / "backend.yaml").write_text(BACKEND.format(demo=DEMO))
        (files / "client.yaml").write_text(CLIENT.format(node=node_image,
                                                         script=json.dumps(WATCH)))
        per_cycle = [args.dns_packets // args.cycles + (i < args.dns_packets % args.cycles)
                     for i in range(args.cycles)]
        try:
            for n in range(args.cycles):
                started = time.monotonic()
                cycle(Environment(name, node_image=node_image), files, n, per_cycle[n], figures)
                figures.cycle_seconds.append(time.monotonic() - started)
                print(f"cycle {n + 1}/{args.cycles}: {figures.cycle_seconds[-1]:.1f} s",
                      file=sys.stderr)
        finally:
            envrt.destroy(client, name)
    report(figures, len(figures.cycle_seconds), args.dns_packets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
