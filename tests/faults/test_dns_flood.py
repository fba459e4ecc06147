"""Issue 10, case 6: one pod holding 1,100 idle TCP connections to the cluster DNS does not deny
DNS to the other pods."""

from __future__ import annotations

import json
import time
from pathlib import Path

from localsvc.runtime import environment as envrt
from tests.faults.conftest import Cluster, apply_text, delete_and_wait, wait_for

FLOOD = """
import socket, sys, time
server = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
held = []
for _ in range(1100):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((server, 53))
        held.append(s)
    except OSError:
        s.close()
print(len(held), flush=True)
time.sleep(float(sys.argv[1]))
"""

QUERY = """
import json, socket, struct, sys
from dnslib import DNSRecord
server = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
name = sys.argv[1]
out = {}
q = DNSRecord.question(name)
out["udp"] = [str(r.rdata) for r in DNSRecord.parse(q.send(server, 53, timeout=2)).rr]
q = DNSRecord.question(name)
out["tcp"] = [str(r.rdata) for r in DNSRecord.parse(q.send(server, 53, tcp=True, timeout=2)).rr]
print(json.dumps(out))
"""

TOOLBOX = """
apiVersion: v1
kind: Pod
metadata: {{name: flood}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: tools, image: {image}, command: [sleep, infinity]}}]
"""


def test_case06_idle_dns_tcp_connections_from_one_pod_do_not_deny_dns(
        fault: Cluster, tmp_path: Path) -> None:
    env = fault.env
    apply_text(env, tmp_path, "flood.yaml", TOOLBOX.format(image=fault.node_image))
    wait_for(lambda: env.pod("flood")["status"].get("phase") == "Running", timeout=60,
             what="the flood pod")
    flood = env.docker.containers.get(env.container_id("flood"))
    exec_id = env.docker.api.exec_create(flood.id, ["python3", "-c", FLOOD, "25"])["Id"]
    output = env.docker.api.exec_start(exec_id, stream=True)
    opened = int(next(iter(output)).decode().strip().splitlines()[0])
    assert opened > 0
    # Another pod (the watcher) asks by UDP and by TCP while those connections are held.
    watcher = env.docker.containers.get(env.container_id("watcher"))
    service_ip = env.get("svc", "backend")[0]["spec"]["clusterIP"]
    # In the zone, and out of it: the node forwards to its resolver, Docker's, which knows the
    # node container's name (no query leaves the machine).
    node_ip = env.info().node_ip
    expected = {"backend.default.svc.cluster.local.": service_ip,
                f"{envrt.node_name(env.name)}.": node_ip}
    for _ in range(2):
        for name, address in expected.items():
            result = watcher.exec_run(["python3", "-c", QUERY, name])
            assert result.exit_code == 0, result.output.decode(errors="replace")
            answers = json.loads(result.output.decode().strip().splitlines()[-1])
            assert answers == {"udp": [address], "tcp": [address]}, name
        time.sleep(1)
    delete_and_wait(env, "pod", "flood")
