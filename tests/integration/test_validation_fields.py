"""Unknown fields and hardening rules on the real engine (issues 9 and 10).

The CLI refuses a manifest with a typo before touching Docker; the node, which validates what is
posted to its API with the same rules, carries the field data too (it is package data, copied
into the node image) and refuses it as well, leaving the running environment as it was.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from localsvc.host.api import Environment
from localsvc.errors import ManifestError
from localsvc.model.load import load_text
from tests.integration.conftest import labelled, localsvc, write

TYPO = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    imagePulPolicy: Never
    env:
    - {name: A, valeu: "1"}
"""

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: test}
"""


def test_cli_refuses_unknown_fields_and_creates_nothing(
    env: Environment, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    path = write(tmp_path, "typo.yaml", TYPO)
    result = localsvc(env, "apply", "-f", str(path), check=False, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f'{path}:8: Pod/p: spec.containers[0].imagePulPolicy: unknown field "imagePulPolicy"; '
        'did you mean "imagePullPolicy"?'
    ) in result.stderr
    assert (
        f'{path}:10: Pod/p: spec.containers[0].env[0].valeu: unknown field "valeu"; '
        'did you mean "value"?'
    ) in result.stderr
    assert labelled(docker_client, env.name) == {"containers": 0, "networks": 0, "volumes": 0}


def test_node_refuses_unknown_fields_and_unsafe_probes_posted_to_its_api(
    env: Environment, tmp_path: Path
) -> None:
    env.up([write(tmp_path, "config.yaml", CONFIG)], wait=60)
    probe = 'readinessProbe: {httpGet: {port: 80, path: "/\\r\\nX: 1"}}'
    bad_probe = TYPO.replace("imagePulPolicy: Never", probe).replace("valeu", "value")
    for text, expected in (
        (TYPO, 'spec.containers[0].imagePulPolicy: unknown field "imagePulPolicy"'),
        (bad_probe, "httpGet.path: must not contain a carriage return, line feed or NUL"),
    ):
        manifest = load_text(text, "posted.yaml").manifests[0]
        body = {
            "manifests": [
                {"obj": manifest.obj, "file": "p.yaml", "line": 1, "lines": dict(manifest.lines)}
            ],
            "prune": False,
        }
        with pytest.raises(ManifestError) as caught:
            env.node().post("/v1/apply", body)
        assert any(expected in str(p) for p in caught.value.problems), caught.value.problems
    names = [o["metadata"]["name"] for o in env.get("pods", namespace=None)]
    assert names == []
