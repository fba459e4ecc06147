"""Tests of localsvc.model.podvolumes: volume plans (modes, claims, hostPaths), read-only mounts
and subPath/subPathExpr as the kubelet resolves them."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.model.podplan import MountPlan, plan_pod
from localsvc.model.podvolumes import (
    ConfigError,
    VolumePlan,
    mount_read_only,
    mount_sub_path,
    plan_volume,
)

Obj = dict[str, Any]
CONFIGMAPS = {("default", "cfg"): {"data": {"a": "1", "b": "2"}}}
BOUND = {("default", "data"): "localsvc-unit-pvc-default.data"}  # claim -> its binding's volume
WAITING = {("default", "going"): 'persistentvolumeclaim "going" is being deleted',
           ("default", "pending"): "pod has unbound immediate PersistentVolumeClaims"}


def configmaps(namespace: str, name: str) -> Obj | None:
    return CONFIGMAPS.get((namespace, name))


def claims(namespace: str, name: str) -> str:
    """As the node's binder answers: the bound volume, or why the pod waits."""
    if (namespace, name) in BOUND:
        return BOUND[(namespace, name)]
    raise ConfigError(WAITING.get((namespace, name), f'persistentvolumeclaim "{name}" not found'))


def none(namespace: str, name: str) -> Obj | None:
    return None


def plan(volume: Obj) -> VolumePlan:
    return plan_volume(volume, "default", configmaps, none, claims)


def test_default_mode_is_0644_and_items_keep_their_own() -> None:
    volume = plan({"name": "v", "configMap": {"name": "cfg"}})
    assert volume.payload() == {"a": (b"1", 0o644), "b": (b"2", 0o644)}
    volume = plan({"name": "v", "configMap": {
        "name": "cfg", "defaultMode": 0o440,
        "items": [{"key": "a", "path": "dir/a", "mode": 0o400}, {"key": "b", "path": "b"}]}})
    assert volume.payload() == {"dir/a": (b"1", 0o400), "b": (b"2", 0o440)}


def test_missing_item_key_in_the_kubelets_words() -> None:
    with pytest.raises(ConfigError, match="references non-existent config key: zz"):
        plan({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "zz", "path": "z"}]}})


def test_optional_missing_configmap_is_an_empty_volume() -> None:
    volume = plan({"name": "v", "configMap": {"name": "later", "optional": True}})
    assert volume.kind == "configMap" and volume.payload() == {}


def test_claim_volume_and_waiting_for_a_missing_claim() -> None:
    volume = plan({"name": "d", "persistentVolumeClaim": {"claimName": "data",
                                                          "readOnly": True}})
    assert (volume.kind, volume.claim, volume.read_only) == ("persistentVolumeClaim", "data", True)
    assert volume.volume == "localsvc-unit-pvc-default.data"  # the binding's, never made here
    with pytest.raises(ConfigError) as info:
        plan({"name": "d", "persistentVolumeClaim": {"claimName": "nope"}})
    assert str(info.value) == 'persistentvolumeclaim "nope" not found'
    with pytest.raises(ConfigError, match='persistentvolumeclaim "going" is being deleted'):
        plan({"name": "d", "persistentVolumeClaim": {"claimName": "going"}})
    with pytest.raises(ConfigError, match="pod has unbound immediate PersistentVolumeClaims"):
        plan({"name": "d", "persistentVolumeClaim": {"claimName": "pending"}})


def test_host_path_volume() -> None:
    volume = plan({"name": "src", "hostPath": {"path": "/home/me/src", "type": "Directory"}})
    assert (volume.kind, volume.host_path, volume.host_path_type) == (
        "hostPath", "/home/me/src", "Directory")
    assert plan({"name": "v", "hostPath": {"path": "/x"}}).host_path_type == ""


def test_no_source_is_an_empty_dir() -> None:
    assert plan({"name": "v"}).kind == "emptyDir"


@pytest.mark.parametrize(("mount", "volume", "expected"), [
    ({}, VolumePlan("v", "emptyDir"), False),
    ({"readOnly": True}, VolumePlan("v", "emptyDir"), True),
    ({}, VolumePlan("v", "hostPath", host_path="/x"), False),
    ({}, VolumePlan("v", "configMap"), True),
    ({}, VolumePlan("v", "secret"), True),
    ({}, VolumePlan("v", "projected"), True),
    ({}, VolumePlan("v", "persistentVolumeClaim", claim="c"), False),
    ({}, VolumePlan("v", "persistentVolumeClaim", claim="c", read_only=True), True),
])
def test_read_only(mount: Obj, volume: VolumePlan, expected: bool) -> None:
    assert mount_read_only(mount, volume) is expected


@pytest.mark.parametrize(("mount", "env", "expected"), [
    ({"subPath": "a/b"}, {}, "a/b"),
    ({"subPathExpr": "$(POD)/logs"}, {"POD": "web-0"}, "web-0/logs"),
    ({"subPathExpr": "$(NS)-$(POD)"}, {"POD": "p", "NS": "n"}, "n-p"),
    ({"subPathExpr": "$$(POD)"}, {"POD": "p"}, "$(POD)"),
    ({"subPathExpr": "plain"}, {}, "plain"),
    ({}, {}, ""),
])
def test_sub_path_expansion(mount: Obj, env: dict[str, str], expected: str) -> None:
    assert mount_sub_path({"name": "v", **mount}, env) == expected


@pytest.mark.parametrize(("mount", "env", "message"), [
    ({"subPathExpr": "$(POD)/$(NODE)"}, {"POD": "p"}, "missing value for NODE"),
    ({"subPathExpr": "$(EMPTY)"}, {"EMPTY": ""}, "missing value for EMPTY"),
    ({"subPathExpr": "$(A)"}, {"A": "/etc"}, "error SubPath `/etc` must not be an absolute path"),
    ({"subPathExpr": "$(A)/x"}, {"A": ".."},
     "unable to provision SubPath `../x`: must not contain '..'"),
])
def test_sub_path_expansion_errors(mount: Obj, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("(", r"\(")
                       .replace(")", r"\)")):
        mount_sub_path({"name": "v", **mount}, env)


def test_plan_pod_mounts_with_sub_paths_and_claims() -> None:
    pod = {"metadata": {"name": "web-0", "namespace": "default", "uid": "u"}, "spec": {
        "containers": [{"name": "c", "image": "x:1",
                        "env": [{"name": "POD", "valueFrom": {
                            "fieldRef": {"fieldPath": "metadata.name"}}}],
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD)"},
                            {"name": "cfg", "mountPath": "/etc/a", "subPath": "a"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "cfg", "configMap": {"name": "cfg"}}]}}
    made = plan_pod(pod, configmaps, none, claims=claims)
    assert made.containers[0].mounts == [MountPlan("data", "/data", False, "web-0"),
                                         MountPlan("cfg", "/etc/a", True, "a")]
    with pytest.raises(ConfigError, match='persistentvolumeclaim "data" not found'):
        plan_pod(pod, configmaps, none)  # no claims at all


def test_unexpandable_sub_path_expr_fails_only_its_container() -> None:
    # status.podIP is known once the sandbox runs: the plan made before it must still let the
    # sandbox be made; the container then starts with the IP in its environment.
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": {
        "containers": [
            {"name": "c", "image": "x:1",
             "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
             "volumeMounts": [{"name": "v", "mountPath": "/v", "subPathExpr": "$(IP)"}]},
            {"name": "other", "image": "x:1"}],
        "volumes": [{"name": "v", "emptyDir": {}}]}}
    before = plan_pod(pod, configmaps, none)
    assert before.containers[0].config_error.endswith("missing value for IP")
    assert before.containers[1].config_error == ""
    after = plan_pod(pod, configmaps, none, pod_ip="10.1.0.5")
    assert after.containers[0].config_error == ""
    assert after.containers[0].mounts[0].sub_path == "10.1.0.5"
