"""Integration-test figures: the pytest fixture's setup and teardown for examples/backend-service,
the node container's peak memory, and how many such environments run side by side on this
machine before setting up one more takes twice as long as the first.

    python benchmarks/parallel.py [--runs 3] [--max-envs 12]

Creates and removes its own environments.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from localsvc.host.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "backend-service"


def peak_memory_mib(env: Environment) -> float:
    node = env.docker.containers.get(f"localsvc-{env.name}-node")
    for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
        out = node.exec_run(["cat", path])
        if out.exit_code == 0:
            return int(out.output.decode().strip()) / 2**20
    status = node.exec_run(["cat", "/proc/1/status"]).output.decode()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024


def setup(node_image: str) -> tuple[Environment, float]:
    env = Environment(f"bench-par-{uuid.uuid4().hex[:6]}", node_image=node_image, reap=True)
    started = time.perf_counter()
    env.up([EXAMPLE], wait=300)
    return env, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-envs", type=int, default=12)
    args = parser.parse_args()
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", "localsvc-examples/demo:1",
                         lambda m: print(m, file=sys.stderr))
    setups, teardowns, peaks = [], [], []
    for _ in range(args.runs):
        env, seconds = setup(node_image)
        setups.append(seconds)
        time.sleep(3)
        peaks.append(peak_memory_mib(env))
        started = time.perf_counter()
        env.down()
        teardowns.append(time.perf_counter() - started)
    print(f"fixture for examples/backend-service (Environment(reap=True).up + down), median of {args.runs}:")
    print(f"  setup {statistics.median(setups):.2f} s, teardown {statistics.median(teardowns):.2f} s, "
          f"node peak memory {max(peaks):.0f} MiB")
    running: list[Environment] = []
    first = None
    try:
        for n in range(1, args.max_envs + 1):
            env, seconds = setup(node_image)
            running.append(env)
            first = first or seconds
            print(f"  environment {n} side by side: setup {seconds:.2f} s", file=sys.stderr)
            if seconds >= 2 * first:
                print(f"side by side: setup time doubled ({seconds:.1f} s vs {first:.1f} s) "
                      f"with environment {n}; {n - 1} ran side by side before that")
                break
        else:
            print(f"side by side: {args.max_envs} environments running, setup time still under "
                  f"twice the first ({first:.1f} s)")
    finally:
        for env in running:
            env.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
