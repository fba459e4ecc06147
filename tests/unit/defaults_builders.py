"""Manifests and helpers shared by the tests of model/defaults: the example's objects as
written and as a 1.32 cluster stores them, and one object of every defaulted kind."""

from __future__ import annotations

from typing import Any

from localsvc.model.defaults import with_defaults

Obj = dict[str, Any]

BACKEND_DEPLOYMENT: Obj = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "backend", "labels": {"app": "backend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "backend"}},
        "template": {
            "metadata": {"labels": {"app": "backend"}},
            "spec": {"containers": [{
                "name": "backend", "image": "localsvc-examples/demo:1",
                "args": ["serve", "--port", "80"],
                "env": [{"name": "POD_NAME",
                         "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "ports": [{"name": "http", "containerPort": 80}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                   "periodSeconds": 2},
            }]},
        },
    },
}

# What `kubectl get deploy backend -o json` shows of it on a 1.32 cluster (less status and the
# metadata the server adds, and the template's creationTimestamp: null serialization artefact).
BACKEND_DEPLOYMENT_STORED: Obj = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "backend", "labels": {"app": "backend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "backend"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "backend"}},
            "spec": {
                "containers": [{
                    "name": "backend", "image": "localsvc-examples/demo:1",
                    "args": ["serve", "--port", "80"],
                    "env": [{"name": "POD_NAME", "valueFrom": {
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 2, "successThreshold": 1,
                        "failureThreshold": 3},
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
    },
}

CLIENT_POD: Obj = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
    "spec": {"containers": [{"name": "client", "image": "busybox"}]},
}

CLIENT_POD_STORED: Obj = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
    "spec": {
        "containers": [{
            "name": "client", "image": "busybox", "imagePullPolicy": "Always",
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable",
             "operator": "Exists", "tolerationSeconds": 300}],
    },
}

BACKEND_SERVICE: Obj = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend-service"},
    "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80}]},
}

BACKEND_SERVICE_STORED: Obj = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend-service"},
    "spec": {
        "selector": {"app": "backend"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
    },
}


def pod(spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def container(**fields: Any) -> Obj:
    return {"name": "c", "image": "app:1", **fields}


def defaulted_container(**fields: Any) -> Obj:
    defaulted: Obj = with_defaults(pod({"containers": [container(**fields)]}))["spec"][
        "containers"][0]
    return defaulted


def service_spec(**spec: Any) -> Obj:
    """The defaulted spec of a Service with `spec`."""
    out: Obj = with_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                              "spec": spec})["spec"]
    return out


def volumes(*written: Obj) -> list[Obj]:
    """The pod volumes `written`, defaulted."""
    out: list[Obj] = with_defaults(
        pod({"containers": [container()], "volumes": list(written)}))["spec"]["volumes"]
    return out


def spec_of(kind: str, api_version: str, spec: Obj) -> Obj:
    """The defaulted spec of an object of `kind` with `spec`."""
    out: Obj = with_defaults({"apiVersion": api_version, "kind": kind,
                              "metadata": {"name": "x"}, "spec": spec})["spec"]
    return out


ENDPOINTS: Obj = {
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
    "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}
ENDPOINT_SLICE: Obj = {
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
    "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}
SECRET: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}

ALL_KINDS: list[Obj] = [
    BACKEND_DEPLOYMENT, CLIENT_POD, BACKEND_SERVICE,
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
     "spec": {"template": {"spec": {"containers": [container()]}}}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
     "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
              "template": {"spec": {"containers": [container()]}}}},
    ENDPOINTS, ENDPOINT_SLICE, SECRET,
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
     "spec": {"clusterIP": "None", "sessionAffinity": "ClientIP"}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
     "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {}},
    {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v"},
     "spec": {"capacity": {"storage": "0.5Gi"}, "hostPath": {"path": "/d"}}},
    pod({"hostNetwork": True, "volumes": [{"name": "v"}, {"name": "p", "projected": {
        "sources": [{"serviceAccountToken": {"path": "token"}}]}}],
        "containers": [container(ports=[{"containerPort": 8080}],
                                  resources={"limits": {"cpu": "1"}},
                                  livenessProbe={"grpc": {"port": 9000}})]}),
]
