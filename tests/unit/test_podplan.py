"""Tests of localsvc.model.podplan: pull policies, $(VAR) expansion, container environments,
pod plans (volumes, mounts, limits, hostnames), resolv.conf per dnsPolicy and crash back-off."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from localsvc.model.podplan import (
    ConfigError,
    MountPlan,
    VolumePlan,
    backoff_seconds,
    container_env,
    default_pull_policy,
    expand,
    plan_pod,
    resolv_conf,
)

Obj = dict[str, Any]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CONFIGMAPS: dict[tuple[str, str], Obj] = {
    ("default", "app-config"): {
        "data": {"LOG_LEVEL": "debug", "MODE": "dev", "app.properties": "a=1\nb=2\n"},
        "binaryData": {"blob.bin": base64.b64encode(b"\x00\x01\x02").decode()},
    },
    ("other", "app-config"): {"data": {"LOG_LEVEL": "other-namespace"}},
}
SECRETS: dict[tuple[str, str], Obj] = {
    ("default", "db"): {
        "data": {"PASSWORD": b64("s3cret"), "USER": b64("admin")},
        "stringData": {"TOKEN": "plain-token"},
    },
}


def configmaps(namespace: str, name: str) -> Obj | None:
    return CONFIGMAPS.get((namespace, name))


def secrets(namespace: str, name: str) -> Obj | None:
    return SECRETS.get((namespace, name))


def pod(spec: Obj | None = None, name: str = "web-0", namespace: str | None = "default", **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "uid": "uid-123", **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"metadata": metadata, "spec": spec or {"containers": [{"name": "c", "image": "busybox"}]}}


# ---- default_pull_policy / expand --------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("library/nginx:1.25-alpine", "IfNotPresent"),
        ("localhost:5000/app", "Always"),  # the registry port is not a tag
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("localhost:5000/app:latest", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "IfNotPresent"),
        ("ghcr.io/org/tool:latest", "Always"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


ENV = {"NAME": "world", "PORT": "8080", "my.var-1": "dotted"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello $(NAME)", "hello world"),
        ("$(NAME):$(PORT)", "world:8080"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(NAME)", "$(NAME)"),  # escaped reference is kept literally
        ("$$$(NAME)", "$world"),
        ("cost: $$5", "cost: $5"),
        ("$NAME", "$NAME"),  # only $(...) is a reference
        ("$(my.var-1)", "dotted"),
        ("$(NAME", "$(NAME"),
        ("", ""),
        ("plain", "plain"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, ENV) == expected


# ---- container_env -----------------------------------------------------------------------------


def env_of(container: Obj, the_pod: Obj | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    return container_env(container, the_pod or pod(), configmaps, secrets, "10.0.0.7", "10.0.0.2", extra)


def test_env_order_service_links_then_env_from_then_env() -> None:
    container = {
        "name": "c",
        "image": "busybox",
        "envFrom": [
            {"configMapRef": {"name": "app-config"}, "prefix": "CFG_"},
            {"secretRef": {"name": "db"}},
        ],
        "env": [
            {"name": "MODE", "value": "override"},
            {"name": "BACKEND_SERVICE_HOST", "value": "mine"},
            {"name": "URL", "value": "http://$(BACKEND_SERVICE_HOST):$(BACKEND_SERVICE_PORT)/$(CFG_MODE)"},
        ],
    }
    links = {"BACKEND_SERVICE_HOST": "10.96.0.20", "BACKEND_SERVICE_PORT": "80", "USER": "link"}
    env = env_of(container, extra=links)
    assert list(env) == [
        "BACKEND_SERVICE_HOST", "BACKEND_SERVICE_PORT", "USER",
        "CFG_LOG_LEVEL", "CFG_MODE", "CFG_app.properties", "CFG_blob.bin",
        "PASSWORD", "TOKEN",
        "MODE", "URL",
    ]
    assert env["CFG_LOG_LEVEL"] == "debug"
    assert env["USER"] == "admin"  # envFrom overrides the service link
    assert env["PASSWORD"] == "s3cret"
    assert env["TOKEN"] == "plain-token"
    assert env["MODE"] == "override"
    assert env["BACKEND_SERVICE_HOST"] == "mine"  # env overrides the service link
    assert env["URL"] == "http://mine:80/dev"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ({"configMapKeyRef": {"name": "app-config", "key": "LOG_LEVEL"}}, "debug"),
        ({"secretKeyRef": {"name": "db", "key": "PASSWORD"}}, "s3cret"),
        ({"secretKeyRef": {"name": "db", "key": "TOKEN"}}, "plain-token"),
        ({"fieldRef": {"fieldPath": "metadata.name"}}, "web-0"),
        ({"fieldRef": {"fieldPath": "metadata.namespace"}}, "default"),
        ({"fieldRef": {"fieldPath": "metadata.uid"}}, "uid-123"),
        ({"fieldRef": {"fieldPath": "status.podIP"}}, "10.0.0.7"),
        ({"fieldRef": {"fieldPath": "status.hostIP"}}, "10.0.0.2"),
        ({"fieldRef": {"fieldPath": "spec.nodeName"}}, "localsvc"),
        ({"fieldRef": {"fieldPath": "spec.serviceAccountName"}}, "default"),
    ],
)
def test_env_value_from(value_from: Obj, expected: str) -> None:
    container = {"name": "c", "image": "busybox", "env": [{"name": "X", "valueFrom": value_from}]}
    assert env_of(container) == {"X": expected}


def test_field_ref_namespace_defaults_and_service_account() -> None:
    the_pod = pod({"serviceAccountName": "robot", "containers": []}, namespace=None)
    container = {"name": "c", "image": "busybox", "env": [
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
    ]}
    assert env_of(container, the_pod) == {"NS": "default", "SA": "robot"}


def test_refs_are_looked_up_in_the_pods_namespace() -> None:
    container = {"name": "c", "image": "busybox",
                 "env": [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "LOG_LEVEL"}}}]}
    assert env_of(container, pod(namespace="other")) == {"L": "other-namespace"}


@pytest.mark.parametrize(
    "container",
    [
        {"envFrom": [{"configMapRef": {"name": "missing", "optional": True}}]},
        {"envFrom": [{"secretRef": {"name": "missing", "optional": True}}]},
        {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k", "optional": True}}}]},
        {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "nope", "optional": True}}}]},
        {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k", "optional": True}}}]},
        {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "nope", "optional": True}}}]},
    ],
)
def test_optional_refs_are_skipped(container: Obj) -> None:
    assert env_of({"name": "c", "image": "busybox", **container}) == {}


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"envFrom": [{"configMapRef": {"name": "missing"}}]}, 'configmap "missing" not found'),
        ({"envFrom": [{"secretRef": {"name": "missing"}}]}, 'secret "missing" not found'),
        ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}]},
         'configmap "missing" not found'),
        ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]},
         'secret "gone" not found'),
        ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "nope"}}}]},
         "couldn't find key nope in ConfigMap default/app-config"),
        ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "nope"}}}]},
         "couldn't find key nope in Secret default/db"),
    ],
)
def test_missing_refs_raise_config_error(container: Obj, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        env_of({"name": "c", "image": "busybox", **container})
    assert str(info.value) == message


# ---- plan_pod ----------------------------------------------------------------------------------


def full_pod() -> Obj:
    return pod({
        "hostname": "db-0",
        "subdomain": "db",
        "restartPolicy": "OnFailure",
        "terminationGracePeriodSeconds": 5,
        "volumes": [
            {"name": "cfg", "configMap": {"name": "app-config",
                                          "items": [{"key": "app.properties", "path": "conf/app.properties"}]}},
            {"name": "all-cfg", "configMap": {"name": "app-config"}},
            {"name": "creds", "secret": {"secretName": "db", "items": [{"key": "PASSWORD", "path": "pw"}]}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "opt", "configMap": {"name": "missing", "optional": True}},
        ],
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "echo $(MODE)"],
                            "env": [{"name": "MODE", "value": "init"}]}],
        "containers": [{
            "name": "app",
            "image": "example/app",
            "command": ["/bin/app"],
            "args": ["--port=$(PORT)", "--literal=$$(PORT)", "--unknown=$(NOPE)"],
            "workingDir": "/srv",
            "env": [{"name": "PORT", "value": "8080"}],
            "ports": [{"name": "http", "containerPort": 8080}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/app"},
                {"name": "creds", "mountPath": "/secrets", "readOnly": False},
                {"name": "scratch", "mountPath": "/tmp/scratch"},
                {"name": "scratch", "mountPath": "/tmp/ro", "readOnly": True},
            ],
            "tty": True,
            "stdin": True,
        }],
    }, name="db-0")


def test_plan_pod_volumes() -> None:
    plan = plan_pod(full_pod(), configmaps, secrets)
    assert plan.volumes == [
        VolumePlan("cfg", "configMap", {"conf/app.properties": b"a=1\nb=2\n"}),
        VolumePlan("all-cfg", "configMap", {"LOG_LEVEL": b"debug", "MODE": b"dev",
                                            "app.properties": b"a=1\nb=2\n", "blob.bin": b"\x00\x01\x02"}),
        VolumePlan("creds", "secret", {"pw": b"s3cret"}),
        VolumePlan("scratch", "emptyDir", {}),
        VolumePlan("opt", "configMap", {}),
    ]


def test_plan_pod_mounts_of_config_and_secrets_are_read_only() -> None:
    app = plan_pod(full_pod(), configmaps, secrets).containers[0]
    assert app.mounts == [
        MountPlan("cfg", "/etc/app", True),
        MountPlan("creds", "/secrets", True),  # readOnly: false does not make a secret writable
        MountPlan("scratch", "/tmp/scratch", False),
        MountPlan("scratch", "/tmp/ro", True),
    ]


def test_plan_pod_containers() -> None:
    plan = plan_pod(full_pod(), configmaps, secrets, pod_ip="10.0.0.7", node_ip="10.0.0.2")
    assert (plan.namespace, plan.name, plan.hostname) == ("default", "db-0", "db-0")
    assert plan.domain == "db.default.svc.cluster.local"
    assert plan.restart_policy == "OnFailure"
    assert plan.grace_seconds == 5
    [init] = plan.init_containers
    assert init.init and init.command == ["sh", "-c", "echo init"] and init.args is None
    assert init.pull_policy == "IfNotPresent"
    [app] = plan.containers
    assert not app.init
    assert app.image == "example/app" and app.pull_policy == "Always"
    assert app.command == ["/bin/app"]
    assert app.args == ["--port=8080", "--literal=$(PORT)", "--unknown=$(NOPE)"]
    assert app.working_dir == "/srv"
    assert app.nano_cpus == 500_000_000
    assert app.mem_limit == 128 * 1024 * 1024
    assert app.ports == [{"name": "http", "containerPort": 8080}]
    assert app.tty and app.stdin


def test_plan_pod_defaults() -> None:
    plan = plan_pod(pod({"containers": [{"name": "c", "image": "busybox:1.36", "imagePullPolicy": "Never"}]},
                        namespace=None), configmaps, secrets)
    assert plan.namespace == "default"
    assert plan.hostname == "web-0"
    assert plan.domain is None
    assert plan.restart_policy == "Always"
    assert plan.grace_seconds == 30
    assert plan.volumes == [] and plan.init_containers == []
    [c] = plan.containers
    assert c.pull_policy == "Never"
    assert c.command is None and c.args is None and c.working_dir is None
    assert c.nano_cpus is None and c.mem_limit is None
    assert c.mounts == [] and c.env == {} and not c.tty and not c.stdin


@pytest.mark.parametrize(
    ("limits", "nano_cpus", "mem_limit"),
    [
        ({"cpu": "1"}, 1_000_000_000, None),
        ({"cpu": 2}, 2_000_000_000, None),
        ({"cpu": "250m"}, 250_000_000, None),
        ({"memory": "1Gi"}, None, 1024**3),
        ({"memory": "64M"}, None, 64_000_000),
        ({"cpu": "0.5", "memory": "512Ki"}, 500_000_000, 512 * 1024),
    ],
)
def test_plan_pod_limits(limits: Obj, nano_cpus: int | None, mem_limit: int | None) -> None:
    the_pod = pod({"containers": [{"name": "c", "image": "x", "resources": {"limits": limits,
                                                                         "requests": {"cpu": "9"}}}]})
    [c] = plan_pod(the_pod, configmaps, secrets).containers
    assert (c.nano_cpus, c.mem_limit) == (nano_cpus, mem_limit)


@pytest.mark.parametrize(("enable", "expected"), [(None, {"A_SERVICE_HOST": "10.96.0.20"}), (True, {"A_SERVICE_HOST": "10.96.0.20"}), (False, {})])
def test_plan_pod_service_links(enable: bool | None, expected: dict[str, str]) -> None:
    spec: Obj = {"containers": [{"name": "c", "image": "x"}]}
    if enable is not None:
        spec["enableServiceLinks"] = enable
    plan = plan_pod(pod(spec), configmaps, secrets, service_env={"A_SERVICE_HOST": "10.96.0.20"})
    assert plan.containers[0].env == expected


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"name": "v", "configMap": {"name": "missing"}}, 'configmap "missing" not found'),
        ({"name": "v", "secret": {"secretName": "missing"}}, 'secret "missing" not found'),
        ({"name": "v", "configMap": {"name": "app-config", "items": [{"key": "nope", "path": "p"}]}},
         'configmap "app-config" (volume v) references non-existent config key: nope'),
    ],
)
def test_plan_pod_missing_volume_sources(volume: Obj, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_pod(pod({"volumes": [volume], "containers": []}), configmaps, secrets)
    assert str(info.value) == message


def test_plan_pod_optional_items_skip_missing_keys() -> None:
    volume = {"name": "v", "configMap": {"name": "app-config", "optional": True,
                                         "items": [{"key": "nope", "path": "p"}, {"key": "MODE", "path": "m"}]}}
    plan = plan_pod(pod({"volumes": [volume], "containers": []}), configmaps, secrets)
    assert plan.volumes == [VolumePlan("v", "configMap", {"m": b"dev"})]


def test_plan_pod_hostname_truncated_to_63() -> None:
    name = "a" * 70
    assert plan_pod(pod(name=name), configmaps, secrets).hostname == "a" * 63


def test_plan_pod_truncated_hostname_has_no_trailing_dash() -> None:
    # A Deployment pod name: <51-character deployment>-<hash>-<suffix>; position 63 is a dash.
    name = "d" * 51 + "-" + "bcdfghjklm" + "-" + "xz9k2"
    assert plan_pod(pod(name=name), configmaps, secrets).hostname == "d" * 51 + "-bcdfghjklm"


# ---- resolv_conf -------------------------------------------------------------------------------

CLUSTER_FIRST = (
    "nameserver 10.96.0.10\n"
    "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
    "options ndots:5\n"
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, CLUSTER_FIRST, id="default-policy-is-ClusterFirst"),
        pytest.param({"dnsPolicy": "ClusterFirst"}, CLUSTER_FIRST, id="ClusterFirst"),
        pytest.param({"dnsPolicy": "ClusterFirstWithHostNet"}, CLUSTER_FIRST, id="ClusterFirstWithHostNet"),
        pytest.param({"dnsPolicy": "Default"}, None, id="Default"),
        pytest.param(
            {"dnsPolicy": "None", "dnsConfig": {
                "nameservers": ["1.1.1.1", "8.8.8.8"],
                "searches": ["corp.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
            }},
            "nameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch corp.example\noptions ndots:2 edns0\n",
            id="None-with-dnsConfig",
        ),
        pytest.param(
            {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}},
            "nameserver 1.1.1.1\n",
            id="None-nameserver-only",
        ),
        pytest.param(
            {"dnsConfig": {
                "nameservers": ["10.96.0.10", "1.1.1.1"],
                "searches": ["svc.cluster.local", "corp.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "timeout", "value": 3}, {"name": "rotate"}],
            }},
            "nameserver 10.96.0.10\nnameserver 1.1.1.1\n"
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
            "options ndots:2 timeout:3 rotate\n",
            id="ClusterFirst-merged-with-dnsConfig",
        ),
        pytest.param(
            {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"]}},
            "nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 8.8.8.8\n",
            id="at-most-three-nameservers",
        ),
    ],
)
def test_resolv_conf(spec: Obj, expected: str | None) -> None:
    the_pod = pod({**spec, "containers": []}, namespace="shop")
    assert resolv_conf(the_pod, "10.96.0.10", "cluster.local") == expected


def test_resolv_conf_custom_cluster_domain() -> None:
    text = resolv_conf(pod(namespace=None), "10.0.128.10", "example.internal")
    assert text == ("nameserver 10.0.128.10\n"
                    "search default.svc.example.internal svc.example.internal example.internal\n"
                    "options ndots:5\n")


def test_resolv_conf_default_policy_with_dns_config_keeps_a_nameserver() -> None:
    the_pod = pod({"dnsPolicy": "Default", "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]},
                   "containers": []})
    text = resolv_conf(the_pod, "10.96.0.10", "cluster.local")
    # Kubernetes merges dnsConfig into the node's resolv.conf; a pod must not lose all nameservers.
    assert text is None or "nameserver " in text


# ---- backoff_seconds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restarts", "seconds"),
    [(-1, 0.0), (0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 160.0), (6, 300.0), (7, 300.0),
     (50, 300.0)],
)
def test_backoff_seconds(restarts: int, seconds: float) -> None:
    assert backoff_seconds(restarts) == seconds


def test_backoff_seconds_custom_base_and_cap() -> None:
    assert [backoff_seconds(n, base=1, cap=5) for n in range(6)] == [0, 1, 2, 4, 5, 5]


def test_backoff_seconds_huge_restart_count_is_capped() -> None:
    assert backoff_seconds(2000) == 300.0
