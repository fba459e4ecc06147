"""Tests of localsvc.model.incluster and its use by plan_pod: the `kubernetes` Service, the
master Service's variables in every pod, and the service-account files."""

from __future__ import annotations

from typing import Any

from localsvc.model.allocation import (
    ServiceRequest,
    allocate,
    dns_ip,
    kubernetes_ip,
)
from localsvc.model.incluster import (
    MOUNT_PATH,
    ApiAccess,
    automounts,
    kubernetes_objects,
    master_service_env,
    service_account_name,
    volume_name,
)
from localsvc.model.podplan import MountPlan, plan_pod
from localsvc.model.storesnapshot import StoreSnapshot
from localsvc.node.services import kube_dns_info

Obj = dict[str, Any]
RANGE = "10.9.128.0/17"


def _none(namespace: str, name: str) -> Obj | None:
    return None


def _access(accounts: dict[tuple[str, str], Obj] | None = None) -> ApiAccess:
    return ApiAccess(
        env=master_service_env("10.9.128.1"), ca_crt=b"CA PEM",
        token=lambda pod, name, uid: f"token:{pod['metadata']['name']}:{name}:{uid}",
        service_accounts=lambda ns, n: (accounts or {}).get((ns, n)))


def _pod(spec: Obj | None = None, namespace: str = "default") -> Obj:
    return {"metadata": {"name": "web", "namespace": namespace, "uid": "1234-abcd"},
            "spec": {"containers": [{"name": "app", "image": "demo:1"}],
                     "initContainers": [{"name": "setup", "image": "demo:1"}], **(spec or {})}}


def test_the_kubernetes_address_is_the_first_of_the_range_and_reserved() -> None:
    assert kubernetes_ip(RANGE) == "10.9.128.1" and dns_ip(RANGE) == "10.9.128.10"
    _, problems = allocate([ServiceRequest("default/mine", "10.9.128.1", False)], {}, RANGE)
    assert problems and "reserved" in problems[0].message
    ips, _ = allocate([ServiceRequest(f"default/s{i}", "", False) for i in range(50)], {}, RANGE)
    assert "10.9.128.1" not in ips.values()


def test_master_service_variables_are_the_kubelets() -> None:
    assert master_service_env("10.96.0.1") == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
    }


def test_the_service_its_endpoints_and_slice_lead_to_the_node_on_443() -> None:
    made = kubernetes_objects("10.9.128.1", "10.9.0.2", "2026-01-01T00:00:00Z")
    assert sorted(made) == ["EndpointSlice/default/kubernetes", "Endpoints/default/kubernetes",
                            "Service/default/kubernetes"]
    service = made["Service/default/kubernetes"]
    assert service["spec"]["clusterIP"] == "10.9.128.1"
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                         "targetPort": 443}]
    assert "selector" not in service["spec"]
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert made["Endpoints/default/kubernetes"]["subsets"] == [
        {"addresses": [{"ip": "10.9.0.2"}],
         "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]
    piece = made["EndpointSlice/default/kubernetes"]
    assert piece["metadata"]["name"] == "kubernetes"
    assert [e["addresses"] for e in piece["endpoints"]] == [["10.9.0.2"]]


def test_the_network_serves_it_from_the_store_like_any_service() -> None:
    derived = StoreSnapshot("cluster.local", "10.9.128.10", "10.9.0.2",
                            kube_dns_info("10.9.128.10", "10.9.0.2"))
    derived.relist(kubernetes_objects("10.9.128.1", "10.9.0.2", "2026-01-01T00:00:00Z"))
    snapshot, problems = derived.snapshot()
    assert problems == []
    [info] = [s for s in snapshot.services if s.name == "kubernetes"]
    assert info.cluster_ip == "10.9.128.1"
    assert [(e.ip, e.ports, e.ready) for e in info.endpoints] == [("10.9.0.2", {"https": 443},
                                                                   True)]


def test_automount_follows_the_pod_then_its_service_account() -> None:
    off = {"automountServiceAccountToken": False}
    on = {"automountServiceAccountToken": True}
    assert automounts(_pod(), None)
    assert not automounts(_pod(off), None)
    assert not automounts(_pod(), off)
    assert automounts(_pod(on), off)
    assert not automounts(_pod(off), on)
    assert service_account_name(_pod()) == "default"
    assert service_account_name(_pod({"serviceAccountName": "builder"})) == "builder"
    assert service_account_name(_pod({"serviceAccount": "legacy"})) == "legacy"


def test_every_container_gets_the_files_read_only_and_the_variables() -> None:
    plan = plan_pod(_pod({"enableServiceLinks": False}), _none, _none,
                    service_env={"WEB_SERVICE_HOST": "10.9.128.7"}, api_access=_access())
    [volume] = plan.volumes
    assert volume.name == volume_name(_pod()) and volume.name.startswith("kube-api-access-")
    assert volume.files == {"token": b"token:web:default:", "ca.crt": b"CA PEM",
                            "namespace": b"default"}
    for container in [*plan.init_containers, *plan.containers]:
        assert container.mounts == [MountPlan(volume.name, MOUNT_PATH, True)]
        assert container.env["KUBERNETES_SERVICE_HOST"] == "10.9.128.1"
        assert container.env["KUBERNETES_PORT_443_TCP"] == "tcp://10.9.128.1:443"
        assert "WEB_SERVICE_HOST" not in container.env  # enableServiceLinks: false


def test_the_namespaces_links_come_with_the_master_variables() -> None:
    plan = plan_pod(_pod(namespace="shop"), _none, _none,
                    service_env={"WEB_SERVICE_HOST": "10.9.128.7"}, api_access=_access())
    env = plan.containers[0].env
    assert env["WEB_SERVICE_HOST"] == "10.9.128.7"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert plan.volumes[0].files["namespace"] == b"shop"


def test_the_named_service_account_signs_and_may_turn_mounting_off() -> None:
    builder = {"metadata": {"name": "builder", "uid": "sa-1"}}
    plan = plan_pod(_pod({"serviceAccountName": "builder"}), _none, _none,
                    api_access=_access({("default", "builder"): builder}))
    assert plan.volumes[0].files["token"] == b"token:web:builder:sa-1"
    quiet = {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False}
    plan = plan_pod(_pod({"serviceAccountName": "quiet"}), _none, _none,
                    api_access=_access({("default", "quiet"): quiet}))
    assert plan.volumes == [] and plan.containers[0].mounts == []
    assert plan.containers[0].env["KUBERNETES_SERVICE_HOST"] == "10.9.128.1"


def test_a_container_mounting_the_path_itself_keeps_its_mount() -> None:
    spec = {"volumes": [{"name": "mine", "emptyDir": {}}],
            "containers": [{"name": "app", "image": "demo:1", "volumeMounts": [
                {"name": "mine", "mountPath": MOUNT_PATH}]},
                {"name": "side", "image": "demo:1"}]}
    plan = plan_pod(_pod(spec), _none, _none, api_access=_access())
    app, side = plan.containers
    assert [m.volume for m in app.mounts] == ["mine"]
    assert [m.path for m in side.mounts] == [MOUNT_PATH]


def test_without_api_access_nothing_is_added() -> None:
    plan = plan_pod(_pod(), _none, _none)
    assert plan.volumes == [] and "KUBERNETES_SERVICE_HOST" not in plan.containers[0].env
