"""Is the ClusterIP Service answering throughout? A watcher pod requests it every 0.2 s and logs
`<epoch> <1|0>`; these pure functions read that log against the node restarts of a test."""

from __future__ import annotations

from collections.abc import Sequence

Sample = tuple[float, bool]
Window = tuple[float, float]  # (node restart began, node API answered again)

RECOVERY = 2.0  # the Service answers within 2 s of the node being back
SLACK = 1.5  # one request timeout plus the watcher's period

WATCHER_SCRIPT = """
import os, sys, time, urllib.request
url = "http://%s/" % os.environ["BACKEND_SERVICE_HOST"]
while True:
    began = time.time()
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            ok = response.status == 200
    except Exception:
        ok = False
    print("%.3f %d" % (began, ok), flush=True)
    time.sleep(0.2)
"""


def parse(log: str) -> list[Sample]:
    samples = []
    for line in log.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                samples.append((float(parts[0]), parts[1] == "1"))
            except ValueError:
                continue
    return samples


def problems(samples: Sequence[Sample], since: float, until: float,
             restarts: Sequence[Window] = ()) -> list[str]:
    """Why the Service did not answer throughout [since, until]: a failed request outside the
    restart windows (each extended by RECOVERY), or a gap in the samples (the watcher itself
    starved), or no sample at all."""
    found = []
    inside = [s for s in samples if since <= s[0] <= until]
    if not inside:
        return [f"no request between {since:.1f} and {until:.1f}"]
    allowed = [(start, end + RECOVERY + SLACK) for start, end in restarts]
    for at, ok in inside:
        if not ok and not any(start <= at <= end for start, end in allowed):
            found.append(f"request at {at:.3f} failed ({at - since:.1f} s into the test)")
    times = [s[0] for s in inside]
    for before, after in zip(times, times[1:]):
        if after - before > 3.0 and not any(start <= after and before <= end
                                            for start, end in allowed):
            found.append(f"no request for {after - before:.1f} s after {before - since:.1f} s")
    for _, end in restarts:
        recovered = [at for at, ok in inside if ok and at >= end]
        if recovered and recovered[0] - end > RECOVERY + SLACK:
            found.append(f"the Service answered {recovered[0] - end:.1f} s after a node restart")
        if not recovered and until - end > RECOVERY + SLACK:
            found.append("the Service never answered after a node restart")
    return found
