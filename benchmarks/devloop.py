"""Dev-loop figures, in one run:
  - saving a manifest change -> the new state served (a Service's new port answers);
  - saving a source edit -> the rebuilt pod Ready and answering (examples/dev-loop);
  - `localsvc up -d` of examples/from-compose/k8s against `docker compose up -d` of its
    docker-compose.yaml, same images, same machine (median of --runs).

    python benchmarks/devloop.py [--runs 3]

Needs a compose tool for the last figure (Debian: apt-get install docker-compose); skipped with a
note otherwise. Creates and removes everything it uses; traffic only to 127.0.0.1 and its pods.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, free_port, get, wait_until  # noqa: E402
from localsvc.host.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image









def foreground(env_name: str, cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "localsvc", "up", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, LOCALSVC_ENV=env_name))


def manifest_and_source_edits(tmp: Path) -> tuple[float, float]:
    project = tmp / "dev-loop"
    shutil.copytree(ROOT / "examples" / "dev-loop", project)
    port, new_port = free_port(31000), free_port(32000)
    app = project / "k8s" / "app.yaml"
    app.write_text(re.sub(r"nodePort: \d+", f"nodePort: {port}", app.read_text()))
    name = f"bench-dl-{uuid.uuid4().hex[:4]}"
    proc = foreground(name, project)
    env = Environment(name)
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{port}/").startswith("v1"))
        app.write_text(app.read_text().replace(f"nodePort: {port}", f"nodePort: {new_port}"))
        saved = wait_until(lambda: get(f"http://127.0.0.1:{new_port}/").startswith("v1"))
        server = project / "app" / "server.py"
        server.write_text(server.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        rebuilt = wait_until(lambda: get(f"http://127.0.0.1:{new_port}/").startswith("v2"))
        return saved, rebuilt
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        env.down()


def compose_command() -> list[str] | None:
    for candidate in (["docker", "compose"], ["docker-compose"]):
        try:
            if subprocess.run([*candidate, "version"], capture_output=True).returncode == 0:
                return candidate
        except FileNotFoundError:
            continue
    return None


def compose_vs_localsvc(runs: int) -> tuple[list[float], list[float]] | None:
    compose = compose_command()
    if compose is None:
        return None
    src = ROOT / "examples" / "from-compose"
    ups, composes = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            work = Path(d) / "from-compose"
            shutil.copytree(src, work)
            name = f"bench-fc-{uuid.uuid4().hex[:4]}"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "localsvc", "--env", name, "up", "-d", "-f",
                            str(work / "k8s")], check=True, capture_output=True)
            ups.append(time.perf_counter() - t)
            Environment(name).down()
            project = f"benchfc{uuid.uuid4().hex[:4]}"
            t = time.perf_counter()
            # Compose v2 can wait for health (`--wait`); v1 returns once containers started,
            # so then the api's healthcheck is polled, like `up -d` waits for readiness.
            wait = ["--wait"] if compose == ["docker", "compose"] else []
            subprocess.run([*compose, "-p", project, "-f", str(work / "docker-compose.yaml"),
                            "up", "-d", *wait], check=True, capture_output=True)
            if not wait:
                wait_until(lambda: "hello from" in get("http://127.0.0.1:8080/"), timeout=120)
            composes.append(time.perf_counter() - t)
            subprocess.run([*compose, "-p", project, "-f", str(work / "docker-compose.yaml"),
                            "down", "-v"], capture_output=True)
    return ups, composes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    client = connect()
    os.environ.setdefault("LOCALSVC_NODE_IMAGE", ensure_node_image(client, lambda m: None))
    ensure_context_image(client, ROOT / "examples/images/demo", "localsvc-examples/demo:1", lambda m: None)
    with tempfile.TemporaryDirectory() as d:
        edits = [manifest_and_source_edits(Path(d) / str(i)) for i in range(args.runs)]
    print(f"dev loop (examples/dev-loop, median of {args.runs}):")
    print(f"  manifest saved -> new state served:      {statistics.median(e[0] for e in edits):.2f} s")
    print(f"  source edit -> rebuilt pod answering:    {statistics.median(e[1] for e in edits):.2f} s")
    result = compose_vs_localsvc(args.runs)
    if result is None:
        print("  (no compose tool: apt-get install docker-compose for the compose comparison)")
        return 0
    ups, composes = result
    u, c = statistics.median(ups), statistics.median(composes)
    print(f"examples/from-compose, median of {args.runs}:")
    print(f"  localsvc up -d (all pods Ready):          {u:.2f} s")
    print(f"  docker compose up -d (same images):       {c:.2f} s   (localsvc / compose = {u / c:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
