"""Tests of localsvc.model.validate: a valid realistic set, a table of bad manifests, ordering."""

from __future__ import annotations

import copy
from pathlib import Path
from textwrap import dedent, indent

import pytest

from localsvc.model.load import Manifest, load_paths, load_text
from localsvc.model.validate import undeclared_namespaces, validate

DATA = Path(__file__).parent / "data"


def _problems(text: str, file: str = "t.yaml") -> list[str]:
    loaded = load_text(text, file)
    assert loaded.skipped == []
    return [str(p) for p in loaded.problems + validate(loaded.manifests)]


def _manifests(text: str, file: str = "t.yaml") -> list[Manifest]:
    loaded = load_text(text, file)
    assert loaded.problems == []
    return loaded.manifests


def pod(body: str) -> str:
    """A Pod named p whose spec is `body` (spec starts on line 5)."""
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + indent(dedent(body), "  ")


def one(body: str) -> str:
    """A Pod with one container c (image busybox) whose extra fields are `body` (from line 7)."""
    return pod("containers:\n- name: c\n  image: busybox\n" + indent(dedent(body), "  "))


def deploy(spec: str) -> str:
    """A Deployment named d whose spec is `body` (spec starts on line 5)."""
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n" + indent(
        dedent(spec), "  "
    )


def svc(spec: str) -> str:
    """A Service named s whose spec is `body` (spec starts on line 5)."""
    return "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n" + indent(
        dedent(spec), "  "
    )


def obj(kind: str, body: str, api: str = "v1") -> str:
    """An object of `kind` named x with top-level fields `body` (from line 4)."""
    return f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n" + dedent(body)


TEMPLATE = """\
template:
  metadata: {labels: {app: web}}
  spec:
    containers: [{name: c, image: busybox}]
"""


BAD = [
    pytest.param(
        obj("ConfigMap", "").replace("{name: x}", "{labels: {a: b}}"),
        "t.yaml:3: ConfigMap/?: metadata.name: required",
        id="name-required",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: Web_1}\n",
        "t.yaml:3: Namespace/Web_1: metadata.name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (got \"Web_1\")",
        id="namespace-name",
    ),
    pytest.param(
        svc("ports: [{port: 80}]").replace("name: s", "name: 1web"),
        "t.yaml:3: Service/1web: metadata.name: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (got \"1web\")",
        id="service-name-dns1035",
    ),
    pytest.param(
        obj("ConfigMap", "").replace("name: x", "name: Bad_Name"),
        "t.yaml:3: ConfigMap/Bad_Name: metadata.name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (got \"Bad_Name\")",
        id="configmap-name-subdomain",
    ),
    pytest.param(
        obj("ConfigMap", "").replace("{name: x}", "{name: x, namespace: Team A}"),
        "t.yaml:3: ConfigMap/x: metadata.namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (got \"Team A\")",
        id="metadata-namespace",
    ),
    pytest.param(
        obj("ConfigMap", "").replace("{name: x}", "\n  name: x\n  labels:\n    -app: web"),
        "t.yaml:6: ConfigMap/x: metadata.labels.-app: label key name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc') (got \"-app\")",
        id="label-key",
    ),
    pytest.param(
        obj("ConfigMap", "").replace("{name: x}", "\n  name: x\n  labels:\n    version: 2"),
        "t.yaml:6: ConfigMap/x: metadata.labels.version: must be a string; quote it (got 2)",
        id="label-value-number",
    ),
    pytest.param(
        obj("ConfigMap", "").replace("{name: x}", "\n  name: x\n  labels:\n    tier: front end"),
        "t.yaml:6: ConfigMap/x: metadata.labels.tier: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (got \"front end\")",
        id="label-value-syntax",
    ),
    pytest.param(
        obj("ConfigMap", "").replace(
            "{name: x}", "\n  name: x\n  annotations:\n    example.com/replicas: 3"
        ),
        "t.yaml:6: ConfigMap/x: metadata.annotations[example.com/replicas]: must be a string; quote it (got 3)",
        id="annotation-value",
    ),
    pytest.param(
        obj("ConfigMap", "") + "---\n" + obj("ConfigMap", ""),
        "t.yaml:7: ConfigMap/x: metadata.name: duplicate ConfigMap/default/x: already defined at t.yaml:1",
        id="duplicate-object",
    ),
    pytest.param(
        pod("restartPolicy: Always\n"),
        "t.yaml:4: Pod/p: spec.containers: required",
        id="containers-required",
    ),
    pytest.param(
        pod("containers: []\n"),
        "t.yaml:5: Pod/p: spec.containers: must have at least one container",
        id="containers-empty",
    ),
    pytest.param(
        pod("containers: {name: c, image: busybox}\n"),
        "t.yaml:5: Pod/p: spec.containers: must be a list (got a mapping)",
        id="containers-not-a-list",
    ),
    pytest.param(
        pod("containers:\n- name: Backend_1\n  image: busybox\n"),
        "t.yaml:6: Pod/p: spec.containers[0].name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (got \"Backend_1\")",
        id="container-name",
    ),
    pytest.param(
        pod(
            "initContainers:\n- {name: c, image: busybox}\ncontainers:\n- {name: c, image: busybox}\n"
        ),
        't.yaml:8: Pod/p: spec.containers[0].name: duplicate container name "c" (also at spec.initContainers[0].name); names must be unique in a pod',
        id="container-name-duplicate",
    ),
    pytest.param(
        pod("containers:\n- name: c\n"),
        't.yaml:6: Pod/p: spec.containers[0].image: required: the image to run, e.g. "nginx:1.27"',
        id="image-required",
    ),
    pytest.param(
        pod("containers:\n- name: c\n  image: 3\n"),
        "t.yaml:7: Pod/p: spec.containers[0].image: must be a string; quote it (got 3)",
        id="image-not-a-string",
    ),
    pytest.param(
        one("imagePullPolicy: always\n"),
        't.yaml:8: Pod/p: spec.containers[0].imagePullPolicy: must be one of "Always", "IfNotPresent", "Never" (got "always")',
        id="image-pull-policy",
    ),
    pytest.param(
        one("command: [sleep, 10]\n"),
        "t.yaml:8: Pod/p: spec.containers[0].command[1]: must be a string; quote it (got 10)",
        id="command-items-strings",
    ),
    pytest.param(
        one("args: --verbose\n"),
        't.yaml:8: Pod/p: spec.containers[0].args: must be a list (got "--verbose")',
        id="args-list",
    ),
    pytest.param(
        one("ports:\n- containerPort: 70000\n"),
        "t.yaml:9: Pod/p: spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive (got 70000)",
        id="container-port-range",
    ),
    pytest.param(
        one("ports:\n- name: http\n"),
        "t.yaml:9: Pod/p: spec.containers[0].ports[0].containerPort: required",
        id="container-port-required",
    ),
    pytest.param(
        one("ports:\n- {containerPort: 8080, name: '8080'}\n"),
        't.yaml:9: Pod/p: spec.containers[0].ports[0].name: must contain at least one letter (a-z) (got "8080")',
        id="container-port-name",
    ),
    pytest.param(
        one("ports:\n- {containerPort: 8080, name: http-management-port}\n"),
        't.yaml:9: Pod/p: spec.containers[0].ports[0].name: must be no more than 15 characters (got 20: "http-management-port")',
        id="container-port-name-long",
    ),
    pytest.param(
        one("ports:\n- {containerPort: 9000, protocol: SCTP}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].ports[0].protocol: SCTP is not supported by localsvc; use TCP or UDP",
        id="container-port-sctp",
    ),
    pytest.param(
        one("ports:\n- {containerPort: 9000, protocol: tcp}\n"),
        't.yaml:9: Pod/p: spec.containers[0].ports[0].protocol: must be one of "TCP", "UDP" (got "tcp")',
        id="container-port-protocol",
    ),
    pytest.param(
        pod(
            "containers:\n- name: a\n  image: busybox\n  ports: [{containerPort: 80, name: http}]\n- name: b\n  image: busybox\n  ports: [{containerPort: 81, name: http}]\n"
        ),
        't.yaml:11: Pod/p: spec.containers[1].ports[0].name: duplicate port name "http" (also at spec.containers[0].ports[0].name); port names must be unique in a pod',
        id="container-port-name-duplicate",
    ),
    pytest.param(
        one("env:\n- {name: 1FOO, value: x}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].env[0].name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (got \"1FOO\")",
        id="env-name",
    ),
    pytest.param(
        one("env:\n- name: PORT\n  value: 8080\n"),
        "t.yaml:10: Pod/p: spec.containers[0].env[0].value: must be a string; quote it (got 8080)",
        id="env-value-number",
    ),
    pytest.param(
        one("env:\n- name: A\n  value: x\n  valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"),
        "t.yaml:11: Pod/p: spec.containers[0].env[0].valueFrom: may not be specified when `value` is not empty",
        id="env-value-and-valuefrom",
    ),
    pytest.param(
        one("env:\n- name: A\n  valueFrom:\n    resourceFieldRef: {resource: limits.cpu}\n"),
        "t.yaml:11: Pod/p: spec.containers[0].env[0].valueFrom.resourceFieldRef: resourceFieldRef is not supported by localsvc; supported: configMapKeyRef, secretKeyRef, fieldRef",
        id="env-resourcefieldref",
    ),
    pytest.param(
        one(
            "env:\n- name: A\n  valueFrom:\n    configMapKeyRef: {name: cm, key: a}\n    secretKeyRef: {name: s, key: a}\n"
        ),
        "t.yaml:12: Pod/p: spec.containers[0].env[0].valueFrom.secretKeyRef: may not be specified together with configMapKeyRef; give exactly one of configMapKeyRef, secretKeyRef, fieldRef",
        id="env-two-sources",
    ),
    pytest.param(
        one("env:\n- name: A\n  valueFrom: {}\n"),
        "t.yaml:10: Pod/p: spec.containers[0].env[0].valueFrom: must specify a source: one of configMapKeyRef, secretKeyRef, fieldRef",
        id="env-no-source",
    ),
    pytest.param(
        one("env:\n- name: A\n  valueFrom:\n    configMapKeyRef: {name: cm}\n"),
        "t.yaml:11: Pod/p: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: required",
        id="env-configmapkeyref-key",
    ),
    pytest.param(
        one("env:\n- name: A\n  valueFrom:\n    secretKeyRef: {key: password}\n"),
        "t.yaml:11: Pod/p: spec.containers[0].env[0].valueFrom.secretKeyRef.name: required",
        id="env-secretkeyref-name",
    ),
    pytest.param(
        one(
            "env:\n- name: A\n  valueFrom:\n    fieldRef: {fieldPath: \"metadata.labels['app']\"}\n"
        ),
        "t.yaml:11: Pod/p: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: \"metadata.labels['app']\" is not supported by localsvc; supported: metadata.name, metadata.namespace, metadata.uid, status.podIP, spec.nodeName, status.hostIP, spec.serviceAccountName",
        id="env-fieldref-unsupported",
    ),
    pytest.param(
        one("envFrom:\n- configMapRef: {}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].envFrom[0].configMapRef.name: required",
        id="envfrom-name",
    ),
    pytest.param(
        one("envFrom:\n- prefix: X_\n"),
        "t.yaml:9: Pod/p: spec.containers[0].envFrom[0]: must specify a source: one of configMapRef, secretRef",
        id="envfrom-neither",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - {name: config, mountPath: /etc/app}\n"
        ),
        't.yaml:10: Pod/p: spec.containers[0].volumeMounts[0].name: no volume named "config" in the pod\'s volumes (volumes: data)',
        id="mount-unknown-volume",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - {name: data, mountPath: data}\n"
        ),
        't.yaml:10: Pod/p: spec.containers[0].volumeMounts[0].mountPath: must be an absolute path (got "data")',
        id="mount-path-relative",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - name: data\n    mountPath: /data\n    subPath: ../x\n"
        ),
        "t.yaml:12: Pod/p: spec.containers[0].volumeMounts[0].subPath: must not contain '..' (got \"../x\")",
        id="mount-subpath-backstep",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - name: data\n    mountPath: /data\n    subPath: /x\n"
        ),
        "t.yaml:12: Pod/p: spec.containers[0].volumeMounts[0].subPath: must be a relative path (got \"/x\")",
        id="mount-subpath-absolute",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - name: data\n    mountPath: /data\n    subPath: x\n    subPathExpr: $(POD)\n"
        ),
        "t.yaml:13: Pod/p: spec.containers[0].volumeMounts[0].subPathExpr: subPathExpr and subPath are mutually exclusive",
        id="mount-subpath-and-expr",
    ),
    pytest.param(
        pod(
            "volumes: [{name: data, emptyDir: {}}]\ncontainers:\n- name: c\n  image: busybox\n  volumeMounts:\n  - name: data\n    mountPath: /data\n    subPathExpr: $(POD)/../x\n"
        ),
        "t.yaml:12: Pod/p: spec.containers[0].volumeMounts[0].subPathExpr: must not contain '..' (got \"$(POD)/../x\")",
        id="mount-subpathexpr-backstep",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: docker\n  hostPath: {path: /var/run/docker.sock, type: Sock}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        't.yaml:7: Pod/p: spec.volumes[0].hostPath.type: must be one of "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice" (got "Sock")',
        id="volume-hostpath-type",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: src\n  hostPath: {path: src}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].hostPath.path: must be an absolute path on the Docker engine's host (got \"src\")",
        id="volume-hostpath-relative",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: src\n  hostPath: {path: /a/../b}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].hostPath.path: must not contain '..' (got \"/a/../b\")",
        id="volume-hostpath-backstep",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: src\n  hostPath: {path: '/a:b'}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].hostPath.path: may not contain ':' with type \"\" in localsvc (got \"/a:b\"); use type Directory",
        id="volume-hostpath-colon",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: src\n  hostPath: {type: Directory}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].hostPath.path: required",
        id="volume-hostpath-no-path",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: db\n  persistentVolumeClaim: {readOnly: true}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].persistentVolumeClaim.claimName: required",
        id="volume-pvc-no-claim",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  nfs: {server: a, path: /x}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].nfs: volume type nfs is not supported by localsvc; supported: configMap, secret, emptyDir, hostPath, persistentVolumeClaim",
        id="volume-nfs",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  emptyDir: {}\n  configMap: {name: cm}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].emptyDir: may not specify more than 1 volume type (got configMap, emptyDir)",
        id="volume-two-types",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  configMap: {optional: true}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].configMap.name: required",
        id="volume-configmap-name",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  secret: {optional: true}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:7: Pod/p: spec.volumes[0].secret.secretName: required",
        id="volume-secret-name",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  configMap:\n    name: cm\n    items:\n    - {key: a, path: ../etc/passwd}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        "t.yaml:10: Pod/p: spec.volumes[0].configMap.items[0].path: must not contain '..' (got \"../etc/passwd\")",
        id="volume-items-dotdot",
    ),
    pytest.param(
        pod(
            "volumes:\n- name: v\n  secret:\n    secretName: s\n    items:\n    - {key: a, path: /etc/a}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        't.yaml:10: Pod/p: spec.volumes[0].secret.items[0].path: must be a relative path (got "/etc/a")',
        id="volume-items-absolute",
    ),
    pytest.param(
        pod(
            "volumes:\n- {name: v, emptyDir: {}}\n- {name: v, emptyDir: {}}\ncontainers: [{name: c, image: busybox}]\n"
        ),
        't.yaml:7: Pod/p: spec.volumes[1].name: duplicate volume name "v" (also at spec.volumes[0].name)',
        id="volume-name-duplicate",
    ),
    pytest.param(
        pod("restartPolicy: Sometimes\ncontainers: [{name: c, image: busybox}]\n"),
        't.yaml:5: Pod/p: spec.restartPolicy: must be one of "Always", "OnFailure", "Never" (got "Sometimes")',
        id="restart-policy",
    ),
    pytest.param(
        pod("terminationGracePeriodSeconds: -1\ncontainers: [{name: c, image: busybox}]\n"),
        "t.yaml:5: Pod/p: spec.terminationGracePeriodSeconds: must be greater than or equal to 0 (got -1)",
        id="grace-period",
    ),
    pytest.param(
        pod("hostname: my_host\ncontainers: [{name: c, image: busybox}]\n"),
        "t.yaml:5: Pod/p: spec.hostname: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (got \"my_host\")",
        id="hostname",
    ),
    pytest.param(
        pod("dnsPolicy: ClusterFirstWithHost\ncontainers: [{name: c, image: busybox}]\n"),
        't.yaml:5: Pod/p: spec.dnsPolicy: must be one of "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None" (got "ClusterFirstWithHost")',
        id="dns-policy",
    ),
    pytest.param(
        pod("dnsPolicy: None\ncontainers: [{name: c, image: busybox}]\n"),
        't.yaml:5: Pod/p: spec.dnsConfig: required when dnsPolicy is "None" (give nameservers, searches and/or options)',
        id="dns-none-needs-config",
    ),
    pytest.param(
        one("resources:\n  limits: {cpu: half}\n"),
        't.yaml:9: Pod/p: spec.containers[0].resources.limits.cpu: must be a quantity such as 500m, 1, 0.5 (cpu) or 128Mi, 1G, 1e3 (memory); a number with an optional suffix m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent> (got "half")',
        id="resources-cpu",
    ),
    pytest.param(
        one("resources:\n  requests:\n    memory: 128MB\n"),
        't.yaml:10: Pod/p: spec.containers[0].resources.requests.memory: must be a quantity such as 500m, 1, 0.5 (cpu) or 128Mi, 1G, 1e3 (memory); a number with an optional suffix m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent> (got "128MB")',
        id="resources-memory",
    ),
    pytest.param(
        one("resources:\n  requests: {memory: 1Gi}\n  limits: {memory: 512Mi}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].resources.requests.memory: must be less than or equal to memory limit (512Mi)",
        id="resources-request-over-limit",
    ),
    pytest.param(
        one("readinessProbe:\n  periodSeconds: 5\n"),
        "t.yaml:8: Pod/p: spec.containers[0].readinessProbe: must specify a handler type: one of httpGet, tcpSocket, exec, grpc",
        id="probe-no-handler",
    ),
    pytest.param(
        one("livenessProbe:\n  httpGet: {port: 80}\n  tcpSocket: {port: 80}\n"),
        "t.yaml:10: Pod/p: spec.containers[0].livenessProbe.tcpSocket: may not be specified together with httpGet; give exactly one of httpGet, tcpSocket, exec, grpc",
        id="probe-two-handlers",
    ),
    pytest.param(
        one("readinessProbe:\n  tcpSocket: {port: 0}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].readinessProbe.tcpSocket.port: must be between 1 and 65535, inclusive (got 0)",
        id="probe-port-range",
    ),
    pytest.param(
        one("readinessProbe:\n  httpGet: {path: /, port: web_port}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].readinessProbe.httpGet.port: a port name must contain only lowercase alphanumeric characters or '-' (got \"web_port\")",
        id="probe-port-name",
    ),
    pytest.param(
        one("startupProbe:\n  exec: {command: []}\n"),
        "t.yaml:9: Pod/p: spec.containers[0].startupProbe.exec.command: must have at least one item: the program to run",
        id="probe-exec-empty",
    ),
    pytest.param(
        one("readinessProbe:\n  exec: {command: [cat, /tmp/ok]}\n  failureThreshold: -3\n"),
        "t.yaml:10: Pod/p: spec.containers[0].readinessProbe.failureThreshold: must be greater than or equal to 0 (got -3)",
        id="probe-threshold",
    ),
    pytest.param(
        one("livenessProbe:\n  tcpSocket: {port: 80}\n  successThreshold: 2\n"),
        "t.yaml:10: Pod/p: spec.containers[0].livenessProbe.successThreshold: must be 1 for liveness and startup probes (got 2)",
        id="probe-liveness-success",
    ),
    pytest.param(
        deploy("replicas: 1\n" + TEMPLATE),
        "t.yaml:4: Deployment/d: spec.selector: required: the labels of the pods this Deployment owns, e.g. matchLabels: {app: web}",
        id="deploy-selector-required",
    ),
    pytest.param(
        deploy("selector: {matchLabels: {app: api}}\n" + TEMPLATE),
        "t.yaml:7: Deployment/d: spec.template.metadata.labels: `selector` does not match template `labels` (selector: app=api; labels: app=web)",
        id="deploy-selector-mismatch",
    ),
    pytest.param(
        deploy(
            "selector:\n  matchExpressions:\n  - {key: app, operator: NotIn, values: [web]}\n"
            + TEMPLATE
        ),
        "t.yaml:9: Deployment/d: spec.template.metadata.labels: `selector` does not match template `labels` (selector: app NotIn (web); labels: app=web)",
        id="deploy-selector-expression-mismatch",
    ),
    pytest.param(
        deploy(
            "selector:\n  matchExpressions:\n  - {key: app, operator: Equals, values: [web]}\n"
            + TEMPLATE
        ),
        't.yaml:7: Deployment/d: spec.selector.matchExpressions[0].operator: must be one of "In", "NotIn", "Exists", "DoesNotExist" (got "Equals")',
        id="deploy-selector-operator",
    ),
    pytest.param(
        deploy("selector:\n  matchExpressions:\n  - {key: app, operator: In}\n" + TEMPLATE),
        "t.yaml:7: Deployment/d: spec.selector.matchExpressions[0].values: must be specified when `operator` is 'In'",
        id="deploy-selector-values-required",
    ),
    pytest.param(
        deploy("selector: {}\n" + TEMPLATE),
        "t.yaml:5: Deployment/d: spec.selector: empty selector is invalid for deployment: give matchLabels and/or matchExpressions",
        id="deploy-selector-empty",
    ),
    pytest.param(
        deploy("replicas: '3'\nselector: {matchLabels: {app: web}}\n" + TEMPLATE),
        't.yaml:5: Deployment/d: spec.replicas: must be an integer (got "3")',
        id="deploy-replicas-string",
    ),
    pytest.param(
        deploy("replicas: -1\nselector: {matchLabels: {app: web}}\n" + TEMPLATE),
        "t.yaml:5: Deployment/d: spec.replicas: must be greater than or equal to 0 (got -1)",
        id="deploy-replicas-negative",
    ),
    pytest.param(
        deploy(
            "selector: {matchLabels: {app: web}}\ntemplate:\n  metadata: {labels: {app: web}}\n  spec:\n    restartPolicy: Never\n    containers: [{name: c, image: busybox}]\n"
        ),
        't.yaml:9: Deployment/d: spec.template.spec.restartPolicy: must be "Always" for a Deployment (got "Never")',
        id="deploy-restart-policy",
    ),
    pytest.param(
        deploy("selector: {matchLabels: {app: web}}\n"),
        "t.yaml:4: Deployment/d: spec.template: required",
        id="deploy-template-required",
    ),
    pytest.param(
        deploy("selector: {matchLabels: {app: web}}\nstrategy: {type: BlueGreen}\n" + TEMPLATE),
        't.yaml:6: Deployment/d: spec.strategy.type: must be one of "RollingUpdate", "Recreate" (got "BlueGreen")',
        id="deploy-strategy-type",
    ),
    pytest.param(
        deploy(
            "selector: {matchLabels: {app: web}}\nstrategy:\n  rollingUpdate: {maxSurge: '25'}\n"
            + TEMPLATE
        ),
        't.yaml:7: Deployment/d: spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage such as "25%" (got "25")',
        id="deploy-max-surge",
    ),
    pytest.param(
        deploy(
            "selector: {matchLabels: {app: web}}\nstrategy:\n  type: RollingUpdate\n  rollingUpdate:\n    maxSurge: 0\n    maxUnavailable: 0%\n"
            + TEMPLATE
        ),
        "t.yaml:10: Deployment/d: spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0",
        id="deploy-both-zero",
    ),
    pytest.param(
        deploy(
            "selector: {matchLabels: {app: web}}\nstrategy:\n  type: Recreate\n  rollingUpdate: {maxSurge: 1}\n"
            + TEMPLATE
        ),
        "t.yaml:8: Deployment/d: spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'",
        id="deploy-recreate-rolling",
    ),
    pytest.param(
        svc("type: Internal\nports: [{port: 80}]\n"),
        't.yaml:5: Service/s: spec.type: must be one of "ClusterIP", "NodePort", "LoadBalancer", "ExternalName" (got "Internal")',
        id="service-type",
    ),
    pytest.param(
        svc("type: ExternalName\n"),
        't.yaml:4: Service/s: spec.externalName: required for type ExternalName: the DNS name to alias, e.g. "db.example.com"',
        id="service-externalname-required",
    ),
    pytest.param(
        svc("type: ExternalName\nexternalName: db_host.example.com\n"),
        "t.yaml:6: Service/s: spec.externalName: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (got \"db_host.example.com\")",
        id="service-externalname-syntax",
    ),
    pytest.param(
        svc("selector: {app: web}\n"),
        't.yaml:4: Service/s: spec.ports: required: at least one port (unless type is ExternalName or clusterIP is "None")',
        id="service-ports-required",
    ),
    pytest.param(
        svc("ports:\n- port: 0\n"),
        "t.yaml:6: Service/s: spec.ports[0].port: must be between 1 and 65535, inclusive (got 0)",
        id="service-port-range",
    ),
    pytest.param(
        svc("ports:\n- targetPort: 8080\n"),
        "t.yaml:6: Service/s: spec.ports[0].port: required",
        id="service-port-required",
    ),
    pytest.param(
        svc("ports:\n- port: 80\n  targetPort: '8080'\n"),
        't.yaml:7: Service/s: spec.ports[0].targetPort: must be a port number or a port name (got the string "8080"; remove the quotes for a number)',
        id="service-target-port-quoted",
    ),
    pytest.param(
        svc("ports:\n- port: 80\n  targetPort: http_port\n"),
        "t.yaml:7: Service/s: spec.ports[0].targetPort: a port name must contain only lowercase alphanumeric characters or '-' (got \"http_port\")",
        id="service-target-port-name",
    ),
    pytest.param(
        svc("ports:\n- port: 80\n  targetPort: 70000\n"),
        "t.yaml:7: Service/s: spec.ports[0].targetPort: must be between 1 and 65535, inclusive (got 70000)",
        id="service-target-port-range",
    ),
    pytest.param(
        svc("ports:\n- {port: 80, protocol: SCTP}\n"),
        "t.yaml:6: Service/s: spec.ports[0].protocol: SCTP is not supported by localsvc; use TCP or UDP",
        id="service-port-protocol-sctp",
    ),
    pytest.param(
        svc("ports:\n- {name: http, port: 80}\n- port: 443\n"),
        "t.yaml:7: Service/s: spec.ports[1].name: required when a Service has more than one port",
        id="service-port-names-required",
    ),
    pytest.param(
        svc("ports:\n- {name: HTTP, port: 80}\n"),
        "t.yaml:6: Service/s: spec.ports[0].name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (got \"HTTP\")",
        id="service-port-name-syntax",
    ),
    pytest.param(
        svc("ports:\n- {name: web, port: 80}\n- {name: web, port: 81}\n"),
        't.yaml:7: Service/s: spec.ports[1].name: duplicate port name "web" (also at spec.ports[0].name)',
        id="service-port-name-duplicate",
    ),
    pytest.param(
        svc("ports:\n- {name: a, port: 80}\n- {name: b, port: 80, protocol: TCP}\n"),
        "t.yaml:7: Service/s: spec.ports[1].port: duplicate port 80/TCP (also at spec.ports[0])",
        id="service-port-duplicate",
    ),
    pytest.param(
        svc("ports:\n- {port: 80, nodePort: 30080}\n"),
        "t.yaml:6: Service/s: spec.ports[0].nodePort: may not be used when `type` is 'ClusterIP'",
        id="service-nodeport-type",
    ),
    pytest.param(
        svc("type: NodePort\nports:\n- {port: 80, nodePort: high}\n"),
        't.yaml:7: Service/s: spec.ports[0].nodePort: must be an integer (got "high")',
        id="service-nodeport-integer",
    ),
    pytest.param(
        svc("selector: {app: web server}\nports: [{port: 80}]\n"),
        "t.yaml:5: Service/s: spec.selector.app: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (got \"web server\")",
        id="service-selector",
    ),
    pytest.param(
        svc("clusterIP: 10.0.0.300\nports: [{port: 80}]\n"),
        't.yaml:5: Service/s: spec.clusterIP: must be "", "None" or an IPv4 address (got "10.0.0.300")',
        id="service-cluster-ip",
    ),
    pytest.param(
        svc("type: LoadBalancer\nclusterIP: None\nports: [{port: 80}]\n"),
        "t.yaml:6: Service/s: spec.clusterIP: may not be set to 'None' for LoadBalancer services",
        id="service-headless-loadbalancer",
    ),
    pytest.param(
        svc("sessionAffinity: Sticky\nports: [{port: 80}]\n"),
        't.yaml:5: Service/s: spec.sessionAffinity: must be one of "None", "ClientIP" (got "Sticky")',
        id="service-session-affinity",
    ),
    pytest.param(
        svc(
            "sessionAffinity: ClientIP\nsessionAffinityConfig:\n  clientIP: {timeoutSeconds: 0}\nports: [{port: 80}]\n"
        ),
        "t.yaml:7: Service/s: spec.sessionAffinityConfig.clientIP.timeoutSeconds: must be between 1 and 86400, inclusive (got 0)",
        id="service-affinity-timeout",
    ),
    pytest.param(
        svc("externalTrafficPolicy: Local\nports: [{port: 80}]\n"),
        "t.yaml:5: Service/s: spec.externalTrafficPolicy: may only be set when `type` is 'NodePort' or 'LoadBalancer'",
        id="service-external-traffic-clusterip",
    ),
    pytest.param(
        svc("internalTrafficPolicy: Node\nports: [{port: 80}]\n"),
        't.yaml:5: Service/s: spec.internalTrafficPolicy: must be one of "Cluster", "Local" (got "Node")',
        id="service-internal-traffic",
    ),
    pytest.param(
        obj("ConfigMap", "data:\n  PORT: 8080\n"),
        "t.yaml:5: ConfigMap/x: data.PORT: must be a string; quote it (got 8080)",
        id="configmap-value-number",
    ),
    pytest.param(
        obj("ConfigMap", "data:\n  DEBUG: yes\n"),
        "t.yaml:5: ConfigMap/x: data.DEBUG: must be a string; quote it (got true)",
        id="configmap-value-bool",
    ),
    pytest.param(
        obj("ConfigMap", "data:\n  conf/app.properties: x\n"),
        "t.yaml:5: ConfigMap/x: data[conf/app.properties]: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (got \"conf/app.properties\")",
        id="configmap-key",
    ),
    pytest.param(
        obj("ConfigMap", "binaryData:\n  logo.png: not base64!\n"),
        't.yaml:5: ConfigMap/x: binaryData[logo.png]: must be base64-encoded (got "not base64!")',
        id="configmap-binary-base64",
    ),
    pytest.param(
        obj("ConfigMap", "data:\n  a: x\nbinaryData:\n  a: eA==\n"),
        't.yaml:7: ConfigMap/x: binaryData.a: duplicate of key "a" in data; a key may be in data or in binaryData, not both',
        id="configmap-key-in-both",
    ),
    pytest.param(
        obj("Secret", "data:\n  password: hunter2\n"),
        't.yaml:5: Secret/x: data.password: must be base64-encoded (got "hunter2"); use stringData for plain text',
        id="secret-data-base64",
    ),
    pytest.param(
        obj("Secret", "stringData:\n  enabled: true\n"),
        "t.yaml:5: Secret/x: stringData.enabled: must be a string; quote it (got true)",
        id="secret-stringdata-string",
    ),
    pytest.param(
        obj("Secret", "type: 1\n"),
        "t.yaml:4: Secret/x: type: must be a string; quote it (got 1)",
        id="secret-type",
    ),
    pytest.param(
        obj("Endpoints", "subsets:\n- addresses:\n  - ip: 10.0.0.256\n  ports: [{port: 80}]\n"),
        't.yaml:6: Endpoints/x: subsets[0].addresses[0].ip: must be an IP address (got "10.0.0.256")',
        id="endpoints-ip",
    ),
    pytest.param(
        obj("Endpoints", "subsets:\n- addresses:\n  - ip: 127.0.0.1\n  ports: [{port: 80}]\n"),
        't.yaml:6: Endpoints/x: subsets[0].addresses[0].ip: may not be in the loopback range (127.0.0.0/8) (got "127.0.0.1")',
        id="endpoints-ip-loopback",
    ),
    pytest.param(
        obj(
            "Endpoints", "subsets:\n- notReadyAddresses:\n  - ip: db.local\n  ports: [{port: 80}]\n"
        ),
        't.yaml:6: Endpoints/x: subsets[0].notReadyAddresses[0].ip: must be an IP address (got "db.local")',
        id="endpoints-not-ready-ip",
    ),
    pytest.param(
        obj("Endpoints", "subsets:\n- addresses: [{ip: 10.1.0.5}]\n  ports:\n  - port: 70000\n"),
        "t.yaml:7: Endpoints/x: subsets[0].ports[0].port: must be between 1 and 65535, inclusive (got 70000)",
        id="endpoints-port",
    ),
    pytest.param(
        obj(
            "Endpoints",
            "subsets:\n- addresses: [{ip: 10.1.0.5}]\n  ports:\n  - {port: 80, protocol: HTTP}\n",
        ),
        't.yaml:7: Endpoints/x: subsets[0].ports[0].protocol: must be one of "TCP", "UDP" (got "HTTP")',
        id="endpoints-protocol",
    ),
    pytest.param(
        obj(
            "EndpointSlice",
            "addressType: IPv4\nendpoints: [{addresses: [10.1.0.5]}]\n",
            api="discovery.k8s.io/v1",
        ),
        't.yaml:3: EndpointSlice/x: metadata.labels: the label "kubernetes.io/service-name" is required: it links the slice to its Service',
        id="slice-service-label",
    ),
    pytest.param(
        obj("EndpointSlice", "addressType: IP\n", api="discovery.k8s.io/v1").replace(
            "{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"
        ),
        't.yaml:4: EndpointSlice/x: addressType: must be one of "IPv4", "IPv6", "FQDN" (got "IP")',
        id="slice-address-type",
    ),
    pytest.param(
        obj(
            "EndpointSlice",
            "addressType: IPv4\nendpoints:\n- addresses: ['fd00::5']\n",
            api="discovery.k8s.io/v1",
        ).replace("{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"),
        't.yaml:6: EndpointSlice/x: endpoints[0].addresses[0]: must be an IPv4 address: localsvc environments use IPv4 only (got "fd00::5")',
        id="slice-address-family",
    ),
    pytest.param(
        obj(
            "EndpointSlice",
            "addressType: IPv4\nendpoints:\n- addresses: []\n",
            api="discovery.k8s.io/v1",
        ).replace("{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"),
        "t.yaml:6: EndpointSlice/x: endpoints[0].addresses: must contain at least 1 address",
        id="slice-addresses-empty",
    ),
    pytest.param(
        obj(
            "EndpointSlice",
            "addressType: FQDN\nendpoints:\n- addresses: [DB.example.com]\n",
            api="discovery.k8s.io/v1",
        ).replace("{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"),
        "t.yaml:6: EndpointSlice/x: endpoints[0].addresses[0]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (got \"DB.example.com\")",
        id="slice-fqdn",
    ),
    pytest.param(
        obj(
            "EndpointSlice", "addressType: IPv4\nports:\n- {port: 0}\n", api="discovery.k8s.io/v1"
        ).replace("{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"),
        "t.yaml:6: EndpointSlice/x: ports[0].port: must be between 1 and 65535, inclusive (got 0)",
        id="slice-port",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_manifest(text: str, expected: str) -> None:
    assert _problems(text) == [expected]


def test_the_table_is_large() -> None:
    assert len(BAD) >= 40


def test_valid_realistic_set_has_no_problems() -> None:
    loaded = load_paths([DATA / "valid-app.yaml"])
    assert loaded.problems == []
    assert {m.kind for m in loaded.manifests} == {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Pod",
        "Endpoints",
        "EndpointSlice",
    }
    assert validate(loaded.manifests) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(one("env:\n- name: EMPTY\n"), id="env-without-value"),
        pytest.param(
            one(
                "env:\n- {name: A, value: '', valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
            ),
            id="env-empty-value-and-source",
        ),
        pytest.param(
            pod(
                "volumes: [{name: v}]\ncontainers:\n- name: c\n  image: busybox\n"
                "  volumeMounts: [{name: v, mountPath: /v}]\n"
            ),
            id="volume-defaults-to-emptydir",
        ),
        pytest.param(svc("clusterIP: None\nselector: {app: web}\n"), id="headless-without-ports"),
        pytest.param(
            svc("clusterIP: 10.96.0.20\nports: [{port: 80, targetPort: 8080}]\n"),
            id="fixed-cluster-ip",
        ),
        pytest.param(
            svc("type: ExternalName\nexternalName: db.example.com.\n"),
            id="externalname-trailing-dot",
        ),
        pytest.param(
            svc(
                "type: LoadBalancer\nports:\n- {name: dns, port: 53, protocol: UDP}\n"
                "- {name: dns-tcp, port: 53, protocol: TCP}\n"
            ),
            id="same-port-two-protocols",
        ),
        pytest.param(
            one("resources:\n  limits: {cpu: 2, memory: 1e9}\n  requests: {cpu: 0.5}\n"),
            id="quantities",
        ),
        pytest.param(
            one("readinessProbe:\n  grpc: {port: 9090}\n  periodSeconds: 0\n"),
            id="grpc-probe-zero-means-default",
        ),
        pytest.param(
            deploy("selector:\n  matchExpressions:\n  - {key: app, operator: Exists}\n" + TEMPLATE),
            id="selector-exists",
        ),
        pytest.param(
            deploy(
                "selector: {matchLabels: {app: web}}\nstrategy:\n  rollingUpdate: "
                "{maxSurge: 0, maxUnavailable: 1}\n" + TEMPLATE
            ),
            id="surge-zero",
        ),
        pytest.param(
            obj("ConfigMap", "data:\n  EMPTY:\n  quoted: '8080'\n"), id="configmap-null-value"
        ),
        pytest.param(
            obj("Secret", "data:\n  empty: ''\ntype: kubernetes.io/tls\n"), id="secret-empty"
        ),
        pytest.param(
            obj(
                "EndpointSlice",
                "addressType: IPv4\nendpoints: [{addresses: [10.1.0.5]}]\nports: [{port: null}]\n",
                api="discovery.k8s.io/v1",
            ).replace("{name: x}", "{name: x, labels: {kubernetes.io/service-name: s}}"),
            id="slice-null-port",
        ),
    ],
)
def test_valid_edge_cases(text: str) -> None:
    assert _problems(text) == []


def test_several_problems_in_one_file_are_all_reported_in_line_order() -> None:
    text = dedent(
        """\
        apiVersion: v1
        kind: Service
        metadata:
          name: Web
        spec:
          type: Internal
          ports:
            - port: 80
              targetPort: "8080"
            - port: 70000
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: two
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers:
                - name: web
                  ports: [{containerPort: 0}]
        """
    )
    assert _problems(text, "app.yaml") == [
        (
            "app.yaml:4: Service/Web: metadata.name: a DNS-1035 label must consist of lower case "
            "alphanumeric characters or '-', start with an alphabetic character, and end with an "
            'alphanumeric character (got "Web")'
        ),
        (
            'app.yaml:6: Service/Web: spec.type: must be one of "ClusterIP", "NodePort", '
            '"LoadBalancer", "ExternalName" (got "Internal")'
        ),
        (
            "app.yaml:8: Service/Web: spec.ports[0].name: required when a Service has more than one "
            "port"
        ),
        (
            "app.yaml:9: Service/Web: spec.ports[0].targetPort: must be a port number or a port name "
            '(got the string "8080"; remove the quotes for a number)'
        ),
        (
            "app.yaml:10: Service/Web: spec.ports[1].port: must be between 1 and 65535, inclusive "
            "(got 70000)"
        ),
        (
            "app.yaml:10: Service/Web: spec.ports[1].name: required when a Service has more than one "
            "port"
        ),
        'app.yaml:17: Deployment/web: spec.replicas: must be an integer (got "two")',
        (
            "app.yaml:20: Deployment/web: spec.template.metadata.labels: `selector` does not match "
            "template `labels` (selector: app=web; labels: app=api)"
        ),
        (
            "app.yaml:23: Deployment/web: spec.template.spec.containers[0].image: required: the image "
            'to run, e.g. "nginx:1.27"'
        ),
        (
            "app.yaml:24: Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: "
            "must be between 1 and 65535, inclusive (got 0)"
        ),
    ]


def test_problems_come_in_file_order_and_duplicates_name_the_first() -> None:
    first = _manifests(obj("ConfigMap", "data: {a: 1}\n"), "b.yaml")
    second = _manifests(obj("ConfigMap", "data: {b: 2}\n"), "a.yaml")
    problems = [str(p) for p in validate(first + second)]
    assert problems == [
        "b.yaml:4: ConfigMap/x: data.a: must be a string; quote it (got 1)",
        (
            "a.yaml:3: ConfigMap/x: metadata.name: duplicate ConfigMap/default/x: already defined at "
            "b.yaml:1"
        ),
        "a.yaml:4: ConfigMap/x: data.b: must be a string; quote it (got 2)",
    ]


def test_same_name_in_other_namespace_or_kind_is_not_a_duplicate() -> None:
    text = (
        obj("ConfigMap", "")
        + "---\n"
        + obj("ConfigMap", "").replace("{name: x}", "{name: x, namespace: other}")
        + "---\n"
        + obj("Secret", "")
    )
    assert _problems(text) == []


def test_validate_does_not_mutate_manifests() -> None:
    loaded = load_paths([DATA / "valid-app.yaml"])
    before = copy.deepcopy([m.obj for m in loaded.manifests])
    validate(loaded.manifests)
    validate(_manifests(one("ports: [{containerPort: x}]\nenv: [{name: 1}]\n")))
    assert [m.obj for m in loaded.manifests] == before


def test_odd_shapes_do_not_crash() -> None:
    for text in [
        "apiVersion: v1\nkind: Pod\nmetadata: [x]\nspec: 3\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [1, null]}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: x, template: []}\n",
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{addresses: [{}], ports: {}}]\n",
    ]:
        assert _problems(text), text


def test_undeclared_namespaces() -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        + obj("ConfigMap", "").replace("{name: x}", "{name: a, namespace: shop}")
        + "---\n"
        + obj("ConfigMap", "").replace("{name: x}", "{name: b, namespace: team-b}")
        + "---\n"
        + obj("ConfigMap", "").replace("{name: x}", "{name: c, namespace: kube-system}")
        + "---\n"
        + obj("ConfigMap", "").replace("{name: x}", "{name: d}")
        + "---\n"
        + obj("Secret", "").replace("{name: x}", "{name: e, namespace: a-team}")
    )
    assert undeclared_namespaces(_manifests(text)) == ["a-team", "team-b"]
    assert undeclared_namespaces(load_paths([DATA / "valid-app.yaml"]).manifests) == []
