"""Start-up cost of an environment: `localsvc up -d` of examples/backend-service (images present),
with its readiness probes and without them, against starting the same four app containers
directly with the Docker SDK (one by one, and in parallel), `localsvc down`, and the node
container's resident memory at rest.

It also measures the floor of localsvc's design straight from Docker: a container of the node
image that imports the node (the node's start before it can serve), then the 4 pods as 4
sandboxes started in parallel, each with its app container joined to its namespaces (9
containers in three waves, where the direct path starts 4 in one). What `up -d` without probes
takes beyond that floor is the rest of localsvc's own path (the CLI, the API round trips, the
node's set-up, Ready reported through the endpoints and the dataplane).

    python benchmarks/startup.py [--runs 5]

Prints medians, the ratios to the direct paths and the issue's targets (issue 15). Creates and
removes its own environments.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import yaml

from localsvc.host.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "backend-service"
DEMO = "localsvc-examples/demo:1"
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")
AT_REST = 3.0  # seconds after `up -d` before the node's memory is read


def cli(env: str, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "localsvc", "--env", env, *args], check=True,
                   capture_output=True, timeout=300)
    return time.perf_counter() - started


def without_probes(source: Path, target: Path) -> Path:
    """The example's manifests with every probe removed, written under `target`."""
    for path in sorted(source.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for doc in docs:
            spec = doc.get("spec") or {}
            pod_spec = (spec.get("template") or {}).get("spec") or spec
            for container in pod_spec.get("containers") or []:
                for probe in PROBES:
                    container.pop(probe, None)
        (target / path.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return target


def _run_direct(client: docker.DockerClient, label: str, name: str, args: list[str]) -> None:
    client.containers.run(DEMO, args, name=f"{label}-{name}", detach=True, network=label,
                          labels={"io.localsvc.bench": label})


def direct(client: docker.DockerClient, parallel: bool) -> float:
    """The same containers without localsvc: a network, 3 backends, 1 client, started one
    after the other or all at once."""
    label = f"localsvc-bench-direct-{uuid.uuid4().hex[:6]}"
    runs = [(f"b{i}", ["serve", "--port", "80"]) for i in range(3)]
    runs.append(("c", ["client", f"http://{label}-b0/"]))
    started = time.perf_counter()
    net = client.networks.create(label, labels={"io.localsvc.bench": label})
    try:
        if parallel:
            with ThreadPoolExecutor(max_workers=len(runs)) as pool:
                list(pool.map(lambda run: _run_direct(client, label, *run), runs))
        else:
            for run in runs:
                _run_direct(client, label, *run)
        elapsed = time.perf_counter() - started
    finally:
        for c in client.containers.list(all=True, filters={"label": f"io.localsvc.bench={label}"}):
            c.remove(force=True)
        net.remove()
    return elapsed


def floor(client: docker.DockerClient, node_image: str) -> tuple[float, float]:
    """Docker's part of `up -d` without probes, without localsvc: a network; a container of the
    node image importing the node; then, in parallel, 4 sandboxes of the node image on the
    network, each followed by its app container in the sandbox's namespaces. The time until the
    node image's container has imported the node, and the pods' time after it."""
    label = f"localsvc-bench-floor-{uuid.uuid4().hex[:6]}"
    labels = {"io.localsvc.bench": label}
    runs = [(f"b{i}", ["serve", "--port", "80"]) for i in range(3)]
    runs.append(("c", ["client", f"http://{label}-b0/"]))

    def pod(name: str, args: list[str]) -> None:
        # As the node makes a pod: the sandbox created, its app container created while the
        # sandbox starts (node/podearly.py), then started.
        api = client.api
        sandbox = api.create_container(
            node_image, ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
            entrypoint=[], name=f"{label}-{name}-infra", labels=labels,
            host_config=api.create_host_config(
                ipc_mode="shareable", extra_hosts={"host.docker.internal": "host-gateway"}),
            networking_config=api.create_networking_config(
                {label: api.create_endpoint_config()}))["Id"]
        with ThreadPoolExecutor(max_workers=1) as side:
            app = side.submit(api.create_container, DEMO, args, name=f"{label}-{name}",
                              labels=labels, host_config=api.create_host_config(
                                  network_mode=f"container:{sandbox}",
                                  ipc_mode=f"container:{sandbox}"))
            api.start(sandbox)
            api.start(app.result()["Id"])

    started = time.perf_counter()
    net = client.networks.create(label, labels=labels)
    try:
        # It stays up, as the node does: a container exiting would release its network
        # endpoint while the sandboxes join that network.
        node = client.containers.run(
            node_image, ["python", "-c", "import localsvc.node.main, time; "
                         "print('imported', flush=True); time.sleep(600)"],
            entrypoint=[], name=f"{label}-node", detach=True, network=label, labels=labels)
        if not any(b"imported" in line for line in node.logs(stream=True, follow=True)):
            raise SystemExit(f"the node image's imports failed: {node.logs().decode()}")
        node_part = time.perf_counter() - started
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            list(pool.map(lambda run: pod(*run), runs))
        pods_part = time.perf_counter() - started - node_part
    finally:
        for c in client.containers.list(all=True, filters={"label": f"io.localsvc.bench={label}"}):
            c.remove(force=True)
        net.remove()
    return node_part, pods_part


def node_rss_mib(env: str, client: docker.DockerClient) -> float:
    node = client.containers.get(f"localsvc-{env}-node")
    status = node.exec_run(["cat", "/proc/1/status"]).output.decode()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return kib / 1024


def one_env(client: docker.DockerClient, manifests: Path, rest: bool
            ) -> tuple[float, float, float | None]:
    """`up -d` of `manifests` in a new environment, then `down`: their times, and the node's
    memory after AT_REST seconds when `rest`."""
    env = f"bench-up-{uuid.uuid4().hex[:6]}"
    try:
        up = cli(env, "up", "-d", "-f", str(manifests))
        rss = None
        if rest:
            time.sleep(AT_REST)  # at rest: probes running, nothing changing
            rss = node_rss_mib(env, client)
        down = cli(env, "down")
    finally:
        Environment(env).down()
    return up, down, rss


def row(label: str, seconds: float, note: str = "") -> str:
    return f"  {label:<52} {seconds:5.2f} s   {note}".rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # The CLI as a pip install has it, with its bytecode: an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 compiles every module it imports at every command (~0.15-0.3 s).
    compileall.compile_dir(ROOT / "localsvc", quiet=1)
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", DEMO,
                         lambda m: print(m, file=sys.stderr))
    series: dict[str, list[Any]] = {k: [] for k in ("up", "bare", "down", "rss", "seq", "par",
                                                          "floor", "fnode", "fpods")}
    with tempfile.TemporaryDirectory(prefix="localsvc-bench-") as tmp:
        bare = without_probes(EXAMPLE, Path(tmp))
        for i in range(args.runs):
            up, down, rss = one_env(client, EXAMPLE, rest=True)
            series["up"].append(up)
            series["down"].append(down)
            series["rss"].append(rss)
            series["bare"].append(one_env(client, bare, rest=False)[0])
            series["seq"].append(direct(client, parallel=False))
            series["par"].append(direct(client, parallel=True))
            node_part, pods_part = floor(client, node_image)
            series["fnode"].append(node_part)
            series["fpods"].append(pods_part)
            series["floor"].append(node_part + pods_part)
            print(f"run {i + 1}/{args.runs}: up -d {up:.2f} s, without probes "
                  f"{series['bare'][-1]:.2f} s, down {down:.2f} s, direct one by one "
                  f"{series['seq'][-1]:.2f} s, in parallel {series['par'][-1]:.2f} s, "
                  f"floor {series['floor'][-1]:.2f} s", file=sys.stderr)
    m = {k: statistics.median(v) for k, v in series.items()}
    overhead = m["bare"] - m["par"]
    print(f"\nexamples/backend-service (3 backends + client, images present), "
          f"median of {args.runs}:")
    print(row("localsvc up -d (network, node, 4 pods, Ready):", m["up"],
              f"(/ direct one by one = {m['up'] / m['seq']:.1f}x; target <= 2.0 s)"))
    print(row("localsvc up -d, the same without probes:", m["bare"],
              f"(/ direct in parallel = {m['bare'] / m['par']:.1f}x; target <= 1.5 s)"))
    print(row("direct docker run of the 4 containers, one by one:", m["seq"]))
    print(row("direct docker run of the 4 containers, in parallel:", m["par"]))
    print(row("localsvc's own overhead (without probes - parallel):", overhead,
              "(target <= 0.5 s)"))
    print(row("floor: node image start + imports, 4 sandboxes + apps:", m["floor"],
              f"(Docker's part of the design: {m['floor'] - m['par']:+.2f} s over parallel)"))
    print(row("  of which the node image's container until imported:", m["fnode"]))
    print(row("  of which the 4 pods (sandbox, then app), in parallel:", m["fpods"]))
    print(row("localsvc's path beyond that floor (without probes):", m["bare"] - m["floor"]))
    print(row("localsvc down:", m["down"]))
    print(f"  {'node container resident memory at rest:':<52} {m['rss']:5.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
