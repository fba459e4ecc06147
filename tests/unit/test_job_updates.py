"""A stored Job applied again: unchanged when only the server's generated selector and labels
are missing from the manifest; refused with "field is immutable" when its template changes, as
the API server refuses it (model/validate/updates.py through the node's apply)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from localsvc.errors import ManifestError
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
JOB: Obj = {
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "migrate", "namespace": "default"},
    "spec": {"suspend": True, "template": {"metadata": {"labels": {"app": "m"}}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo:1"}]}}},
}


def test_generated_fields_are_no_change_and_the_template_is_immutable(tmp_path: Path) -> None:
    node = controller(tmp_path)
    (created,) = node.apply(manifests(JOB), prune=False)
    assert created["action"] == "created"
    stored = node.state.objects["Job/default/migrate"]
    uid = stored["metadata"]["uid"]
    assert stored["spec"]["selector"] == {"matchLabels": {
        "batch.kubernetes.io/controller-uid": uid}}
    assert stored["spec"]["template"]["metadata"]["labels"]["job-name"] == "migrate"
    (again,) = node.apply(manifests(JOB), prune=False)
    assert again["action"] == "unchanged"

    changed = copy.deepcopy(JOB)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "demo:2"
    with pytest.raises(ManifestError) as refused:
        node.apply(manifests(changed), prune=False)
    (problem,) = refused.value.problems
    assert problem.path == "spec.template" and problem.message.startswith("field is immutable")
    assert "kubectl replace --force" in problem.message
    assert node.state.objects["Job/default/migrate"] is stored  # nothing changed

    relabelled = copy.deepcopy(JOB)
    relabelled["metadata"]["labels"] = {"team": "db"}  # metadata may change
    (configured,) = node.apply(manifests(relabelled), prune=False)
    assert configured["action"] == "configured"
    kept = node.state.objects["Job/default/migrate"]
    assert kept["metadata"]["uid"] == uid and kept["metadata"]["generation"] == 1
