"""Every example runs as its README says (CoreDNS-style README tests)."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter

from localsvc.host.api import Environment
from tests.integration.conftest import ROOT, unique_env, wait_for


def test_quickstart_runs_the_backend_service_example(node_image: str, demo_image: str) -> None:
    """The README's first command, as written; the client reaches all 3 backends by name."""
    env = Environment(unique_env("qs"))
    environ = dict(os.environ, LOCALSVC_ENV=env.name)
    try:
        result = subprocess.run(["bash", "scripts/quickstart"], cwd=ROOT, capture_output=True,
                                text=True, timeout=600, env=environ)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "backend-service" in result.stdout and "kube-dns" in result.stdout
        assert len(re.findall(r"backend-\w+-\w+ +1/1 +Running", result.stdout)) == 3

        def answered_by() -> Counter[str]:
            log = b"".join(env.logs("client", tail=40)).decode()
            return Counter(re.findall(r"hello from (backend-\S+)", log))
        counts = wait_for(lambda: len(answered_by()) == 3 and answered_by(), timeout=60,
                          what="answers from all three backends")
        assert sum(counts.values()) >= 3
    finally:
        subprocess.run(["bash", "scripts/quickstart", "down"], cwd=ROOT, capture_output=True,
                       timeout=300, env=environ)
    assert not env.exists()
