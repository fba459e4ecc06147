"""PersistentVolumeClaims: validation in the API server's words, the admission defaults, the
binding decision, the objects served (claim, PersistentVolume, StorageClass), the update rules
(immutability, growth only) and the Tables `kubectl get pvc/pv/sc` print."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from localsvc.errors import Problem
from localsvc.model import claims as cl
from localsvc.model.defaults import with_defaults
from localsvc.model.kubeapi import tables
from localsvc.model.kubeapi.status import field_error_from_problem
from localsvc.model.load import Manifest, load_text
from localsvc.model.validate import validate
from localsvc.model.validate import update_problems

Obj = dict[str, Any]
CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
"""
GOOD_SPEC = """\
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"""


def problems(spec: str) -> list[str]:
    loaded = load_text(CLAIM + spec, "c.yaml")
    assert loaded.skipped == [] and loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


def claim(**spec: Any) -> Obj:
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            **spec}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default", "uid": "u-1"}, "spec": body}


def test_a_claim_is_loaded_not_skipped_and_a_good_one_has_no_problem() -> None:
    assert problems(GOOD_SPEC) == []
    assert problems(GOOD_SPEC + "  storageClassName: standard\n  volumeMode: Filesystem\n") == []


@pytest.mark.parametrize(("spec", "expected"), [
    ("  resources: {requests: {storage: 1Gi}}\n",
     "spec.accessModes: required: at least 1 access mode is required"),
    ("  accessModes: [ReadWriteSometimes]\n  resources: {requests: {storage: 1Gi}}\n",
     'spec.accessModes[0]: must be one of "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", '
     '"ReadWriteOncePod" (got "ReadWriteSometimes")'),
    ("  accessModes: [ReadWriteOncePod, ReadOnlyMany]\n  resources: {requests: {storage: 1Gi}}\n",
     "spec.accessModes: may not use ReadWriteOncePod with other access modes"),
    ("  accessModes: [ReadWriteOnce]\n",
     "spec.resources[storage]: required: a claim asks for an amount of storage"),
    ("  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: lots}}\n",
     "spec.resources.requests.storage: must be a quantity"),
    ("  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 0}}\n",
     "spec.resources.requests.storage: must be greater than zero (got 0)"),
    (GOOD_SPEC + "  volumeMode: Block\n",
     "spec.volumeMode: localsvc provides filesystem volumes only"),
    (GOOD_SPEC + "  storageClassName: Fast_SSD\n", "spec.storageClassName: "),
    (GOOD_SPEC + "  capacity: 1Gi\n", "spec.capacity"),
    ("  accessModes: ReadWriteOnce\n  resources: {requests: {storage: 1Gi}}\n",
     'spec.accessModes: must be a list (got "ReadWriteOnce")'),
])
def test_bad_claims_name_the_field_and_line(spec: str, expected: str) -> None:
    found = problems(spec)
    assert any(expected in p for p in found), found
    assert all(p.startswith("c.yaml:") for p in found)
    assert len(found) == 1, found


def test_admission_defaults_the_class_and_the_protection_finalizer_once() -> None:
    stored = with_defaults(claim())
    assert stored["spec"]["storageClassName"] == cl.DEFAULT_CLASS
    assert stored["spec"]["volumeMode"] == "Filesystem"
    assert stored["metadata"]["finalizers"] == [cl.CLAIM_PROTECTION]
    assert with_defaults(stored) == stored
    none = with_defaults(claim(storageClassName=""))  # "" asks for no class: kept
    assert none["spec"]["storageClassName"] == ""


@pytest.mark.parametrize(("spec", "reason", "warning"), [
    ({"storageClassName": ""}, "FailedBinding", False),
    ({"storageClassName": "fast"}, "ProvisioningFailed", True),
    ({"selector": {"matchLabels": {"a": "b"}}}, "ProvisioningFailed", True),
    ({"dataSource": {"kind": "PersistentVolumeClaim", "name": "x"}}, "ProvisioningFailed", True),
    ({"volumeName": "pv-elsewhere"}, "FailedBinding", False),
])
def test_claims_that_cannot_be_bound_say_why(spec: Obj, reason: str, warning: bool) -> None:
    problem = cl.binding_problem(with_defaults(claim(**spec)), frozenset({"standard"}))
    assert problem is not None and (problem.reason, problem.warning) == (reason, warning)


def test_unknown_class_message_is_the_pv_controllers() -> None:
    problem = cl.binding_problem(claim(storageClassName="fast"), frozenset({"standard"}))
    assert problem is not None
    assert problem.message == 'storageclass.storage.k8s.io "fast" not found'


def test_bindable_claims_have_no_problem_also_when_they_name_their_own_volume() -> None:
    classes = frozenset({"standard"})
    assert cl.binding_problem(with_defaults(claim()), classes) is None
    assert cl.binding_problem(claim(volumeName="pvc-u-1"), classes) is None


BOUND = cl.Bound("localsvc-e-pvc-default.data", "/var/lib/docker/volumes/x/_data",
                 "2026-12-07T12:00:00Z")


def test_a_bound_claim_is_served_with_what_the_pv_controller_writes() -> None:
    stored = with_defaults(claim())
    served = cl.claim_view(stored, BOUND)
    assert served["spec"]["volumeName"] == "pvc-u-1"
    assert served["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                "capacity": {"storage": "1Gi"}}
    annotations = served["metadata"]["annotations"]
    assert annotations[cl.BIND_COMPLETED] == "yes"
    assert annotations["volume.kubernetes.io/storage-provisioner"] == cl.PROVISIONER
    assert "volumeName" not in stored["spec"] and "annotations" not in stored["metadata"]
    assert cl.claim_view(stored, None)["status"] == {"phase": "Pending"}


def test_the_persistent_volume_points_at_the_claim_and_the_docker_volume() -> None:
    pv = cl.persistent_volume(with_defaults(claim()), BOUND)
    assert pv["metadata"]["name"] == "pvc-u-1"
    assert pv["metadata"]["annotations"][cl.DOCKER_VOLUME] == BOUND.volume
    assert pv["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "namespace": "default", "name": "data", "uid": "u-1"}
    assert pv["spec"]["hostPath"]["path"] == BOUND.mountpoint
    assert (pv["spec"]["capacity"], pv["spec"]["persistentVolumeReclaimPolicy"],
            pv["spec"]["storageClassName"], pv["status"]["phase"]) == (
        {"storage": "1Gi"}, "Delete", "standard", "Bound")


def test_the_default_storage_class() -> None:
    sc = cl.storage_class("2026-12-07T12:00:00Z")
    assert sc["metadata"]["annotations"][cl.DEFAULT_CLASS_ANNOTATION] == "true"
    assert (sc["provisioner"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
        cl.PROVISIONER, "Delete", "Immediate")


def test_pods_use_claims_by_name_and_a_deleted_claim_in_use_is_terminating() -> None:
    pod = {"spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                                {"name": "b", "emptyDir": {}}]}}
    assert cl.claims_used_by(pod) == {"data"}
    assert cl.claims_used_by({"spec": {}}) == set()
    served = cl.claim_view(with_defaults(claim()), BOUND)
    gone = cl.terminating_claim(served, "2026-12-07T12:01:00Z")
    assert gone["metadata"]["deletionTimestamp"] == "2026-12-07T12:01:00Z"
    assert gone["metadata"]["finalizers"] == [cl.CLAIM_PROTECTION]
    assert cl.terminating_claim(gone, "later")["metadata"]["deletionTimestamp"] == \
        "2026-12-07T12:01:00Z"


# ---- updates ----------------------------------------------------------------------------

def update(previous: Obj, wanted: Obj) -> list[Problem]:
    return update_problems(Manifest(obj=wanted, file="c.yaml", line=1), with_defaults(previous),
                           with_defaults(wanted))


def resized(obj: Obj, size: str) -> Obj:
    out = copy.deepcopy(obj)
    out["spec"]["resources"]["requests"]["storage"] = size
    return out


def test_a_bound_claim_may_grow() -> None:
    assert update(claim(), resized(claim(), "2Gi")) == []
    assert update(claim(), claim()) == []


def test_a_claim_may_not_shrink() -> None:
    found = update(claim(), resized(claim(), "512Mi"))
    assert [(p.path, p.message.split(" (")[0]) for p in found] == [
        ("spec.resources.requests.storage",
         "Forbidden: field can not be less than previous value")]


def test_the_rest_of_the_spec_is_immutable_in_the_api_servers_words() -> None:
    found = update(claim(), claim(accessModes=["ReadWriteMany"]))
    assert len(found) == 1 and found[0].path == "spec"
    assert found[0].message.startswith(
        "Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims (changed: spec.accessModes)")
    error = field_error_from_problem(found[0])
    assert str(error).startswith("spec: Forbidden: spec is immutable after creation")
    assert update(claim(), claim(storageClassName="other"))


def test_an_unbound_claim_may_not_change_its_request() -> None:
    pending = claim(storageClassName="")
    assert update(pending, resized(pending, "2Gi"))


def test_the_volume_name_is_set_once_and_kept_when_left_out() -> None:
    assert update(claim(), claim(volumeName="pvc-u-1")) == []  # the PV controller's write
    bound = claim(volumeName="pvc-u-1")
    assert update(bound, claim()) == []  # `localsvc up` with the manifest as written
    assert update(bound, claim(volumeName="pvc-other"))


def test_creates_and_other_kinds_are_no_updates() -> None:
    assert update_problems(Manifest(obj=claim(), file="c.yaml", line=1), None,
                           with_defaults(claim())) == []
    broken = claim()
    broken["spec"]["resources"] = "lots"  # validation reports it; no crash here
    assert update(claim(), broken) == []


# ---- tables -------------------------------------------------------------------------------

NOW = 1796644800.0  # 2026-12-07T12:00:00Z


def cells(kind: str, obj: Obj) -> list[Any]:
    table = tables.table(kind, [obj], NOW + 90)
    return list(table["rows"][0]["cells"])


def names(kind: str) -> list[str]:
    return [c["name"] for c in tables.table(kind, [], NOW)["columnDefinitions"]
            if c["priority"] == 0]


def test_the_columns_kubectl_prints() -> None:
    assert names("PersistentVolumeClaim") == ["Name", "Status", "Volume", "Capacity",
                                              "Access Modes", "StorageClass",
                                              "VolumeAttributesClass", "Age"]
    assert names("PersistentVolume") == ["Name", "Capacity", "Access Modes", "Reclaim Policy",
                                         "Status", "Claim", "StorageClass",
                                         "VolumeAttributesClass", "Reason", "Age"]
    assert names("StorageClass") == ["Name", "Provisioner", "ReclaimPolicy",
                                     "VolumeBindingMode", "AllowVolumeExpansion", "Age"]


def test_rows_of_a_bound_claim_its_volume_and_the_class() -> None:
    stored = with_defaults(claim(accessModes=["ReadWriteOnce", "ReadOnlyMany"]))
    stored["metadata"]["creationTimestamp"] = "2026-12-07T12:00:00Z"
    assert cells("PersistentVolumeClaim", cl.claim_view(stored, BOUND)) == [
        "data", "Bound", "pvc-u-1", "1Gi", "RWO,ROX", "standard", "<unset>", "90s",
        "Filesystem"]
    assert cells("PersistentVolumeClaim", cl.claim_view(stored, None))[:5] == [
        "data", "Pending", "", "", ""]
    assert cells("PersistentVolume", cl.persistent_volume(stored, BOUND)) == [
        "pvc-u-1", "1Gi", "RWO,ROX", "Delete", "Bound", "default/data", "standard", "<unset>",
        "", "90s", "Filesystem"]
    terminating = cl.terminating_claim(cl.claim_view(stored, BOUND), "2026-12-07T12:01:00Z")
    assert cells("PersistentVolumeClaim", terminating)[1] == "Terminating"
    assert cells("StorageClass", cl.storage_class("2026-12-07T12:00:00Z")) == [
        "standard (default)", cl.PROVISIONER, "Delete", "Immediate", "true", "90s"]


def test_strict_lists_the_claim_fields_localsvc_does_not_act_on() -> None:
    from localsvc.model.ignored import ignored_fields

    loaded = load_text(CLAIM + GOOD_SPEC + "  volumeAttributesClassName: gold\n"
                       "  storageClassName: standard\n", "c.yaml")
    assert ignored_fields(loaded.manifests[0]) == ["spec.volumeAttributesClassName"]


def test_storage_classes_and_volumes_users_apply_are_skipped_with_the_reason() -> None:
    from localsvc.host.manifests import skipped_lines

    loaded = load_text("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}"
                       "\nprovisioner: x\n---\napiVersion: v1\nkind: PersistentVolume\n"
                       "metadata: {name: p}\nspec: {capacity: {storage: 1Gi}}\n", "s.yaml")
    assert skipped_lines(loaded) == [
        "s.yaml:1: StorageClass/fast: skipped: localsvc does not run kind StorageClass "
        "(storage.k8s.io/v1); PersistentVolumeClaims use the node's default class `standard`, "
        "a Docker volume per claim",
        "s.yaml:6: PersistentVolume/p: skipped: localsvc does not run kind PersistentVolume (v1); "
        "the node provisions a volume for every PersistentVolumeClaim"]
