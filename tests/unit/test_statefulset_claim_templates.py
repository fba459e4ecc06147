"""A StatefulSet's volumeClaimTemplates are checked as claims, at their own paths and lines
(review of issue 14: Block mode, no storage request, bad accessModes passed, and the node then
bound a claim with no capacity)."""

from __future__ import annotations

import pytest

from localsvc.model.load import load_text
from localsvc.model.validate import validate

STS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: postgres}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
"""
GOOD = """\
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""
AT = "spec.volumeClaimTemplates[0].spec"


def problems(template_spec: str) -> list[str]:
    loaded = load_text(STS + template_spec, "s.yaml")
    assert loaded.skipped == [] and loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


def test_a_good_template_has_no_problem() -> None:
    assert problems(GOOD) == []
    assert problems(GOOD + "      volumeMode: Filesystem\n      storageClassName: standard\n") \
        == []


@pytest.mark.parametrize(("spec", "expected", "line"), [
    (GOOD + "      volumeMode: Block\n",
     f"{AT}.volumeMode: localsvc provides filesystem volumes only", 17),
    ("      accessModes: [ReadWriteOnce]\n",
     f"{AT}.resources[storage]: required: a claim asks for an amount of storage", 14),
    ("      accessModes: [ReadWriteSometimes]\n      resources: {requests: {storage: 1Gi}}\n",
     f'{AT}.accessModes[0]: must be one of "ReadOnlyMany"', 15),
    ("      resources: {requests: {storage: 1Gi}}\n",
     f"{AT}.accessModes: required: at least 1 access mode is required", None),
    ("      accessModes: [ReadWriteOnce]\n      resources: {requests: {storage: 0}}\n",
     f"{AT}.resources.requests.storage: must be greater than zero (got 0)", 16),
    (GOOD + "      storageClassName: Fast_SSD\n", f"{AT}.storageClassName: ", 17),
])
def test_a_bad_template_names_its_field_and_line(spec: str, expected: str,
                                                 line: int | None) -> None:
    found = problems(spec)
    assert len(found) == 1 and expected in found[0], found
    if line is not None:
        assert found[0].startswith(f"s.yaml:{line}:"), found


def test_a_template_without_spec_is_refused() -> None:
    found = problems("")
    assert any(p for p in found if "spec.volumeClaimTemplates[0].spec" in p), found
