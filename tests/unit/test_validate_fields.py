"""Unknown fields are validation errors (issue 9); real fields localsvc ignores stay warnings."""

from __future__ import annotations

from localsvc.model.ignored import ignored_fields, strict_report
from localsvc.model.load import load_text
from localsvc.model.validate import validate


def _problems(text: str) -> list[str]:
    loaded = load_text(text, "t.yaml")
    assert loaded.problems == [] and loaded.skipped == []
    return [str(p) for p in validate(loaded.manifests)]


TYPOS = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    imagePulPolicy: Never
    readinessprobe:
      exec: {command: ["true"]}
    env:
    - name: A
      valeu: "1"
"""


def test_the_three_typos_of_issue_9_are_errors_with_line_and_suggestion() -> None:
    assert _problems(TYPOS) == [
        't.yaml:8: Pod/p: spec.containers[0].imagePulPolicy: unknown field "imagePulPolicy"; '
        'did you mean "imagePullPolicy"?',
        't.yaml:9: Pod/p: spec.containers[0].readinessprobe: unknown field "readinessprobe"; '
        'did you mean "readinessProbe"?',
        't.yaml:13: Pod/p: spec.containers[0].env[0].valeu: unknown field "valeu"; '
        'did you mean "value"?',
    ]


def test_unknown_fields_are_not_listed_as_accepted_but_ignored() -> None:
    manifest = load_text(TYPOS, "t.yaml").manifests[0]
    assert ignored_fields(manifest) == []
    assert strict_report([manifest]) == []


def test_nested_typo_in_a_deployment_pod_template() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox
        ports:
        - containerport: 80
"""
    assert _problems(text) == [
        "t.yaml:13: Deployment/d: spec.template.spec.containers[0].ports[0].containerPort: "
        "required",
        "t.yaml:13: Deployment/d: spec.template.spec.containers[0].ports[0].containerport: "
        'unknown field "containerport"; did you mean "containerPort"?',
    ]


def test_secret_volume_with_name_instead_of_secret_name() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
  - name: v
    secret: {name: creds}
  containers: [{name: c, image: busybox}]
"""
    assert _problems(text) == [
        "t.yaml:7: Pod/p: spec.volumes[0].secret.secretName: required",
        't.yaml:7: Pod/p: spec.volumes[0].secret.name: unknown field "name"; '
        'did you mean "secretName"?',
    ]


def test_unknown_top_level_and_metadata_fields() -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: s
  label: {app: web}
spec:
  ports: [{port: 80}]
specs: {}
"""
    assert _problems(text) == [
        't.yaml:5: Service/s: metadata.label: unknown field "label"; did you mean "labels"?',
        't.yaml:8: Service/s: specs: unknown field "specs"; did you mean "spec"?',
    ]


def test_a_misspelt_volume_type_is_an_unknown_field_not_an_unsupported_type() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
  - name: v
    configmap: {name: c}
  containers: [{name: c, image: busybox}]
"""
    assert _problems(text) == [
        't.yaml:7: Pod/p: spec.volumes[0].configmap: unknown field "configmap"; '
        'did you mean "configMap"?',
    ]


# Every kind, with many real fields (used, ignored, server-filled): no problem at all.
FULL = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}, annotations: {note: x}}
spec: {finalizers: [kubernetes]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop, creationTimestamp: null}
data: {app.conf: "x=1"}
binaryData: {blob: aGk=}
immutable: false
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
type: Opaque
data: {password: aGk=}
stringData: {user: admin}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: v1, kind: X, name: y, uid: "1"}]
spec:
  replicas: 2
  minReadySeconds: 0
  progressDeadlineSeconds: 600
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front]}]
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web, tier: front}, annotations: {a: b}}
    spec:
      serviceAccountName: default
      automountServiceAccountToken: false
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{key: k, operator: Exists, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 1
            podAffinityTerm:
              labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
      terminationGracePeriodSeconds: 5
      dnsPolicy: ClusterFirst
      dnsConfig: {options: [{name: ndots, value: "2"}]}
      hostname: web
      subdomain: web
      enableServiceLinks: false
      imagePullSecrets: [{name: reg}]
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway,
         labelSelector: {matchLabels: {app: web}}}
      initContainers:
      - name: init
        image: busybox
        command: [sh, -c, "true"]
      containers:
      - name: web
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["-g", "daemon off;"]
        workingDir: /
        ports: [{name: http, containerPort: 80, protocol: TCP}]
        env:
        - {name: A, value: "1"}
        - name: B
          valueFrom: {configMapKeyRef: {name: cfg, key: app.conf, optional: true}}
        - name: C
          valueFrom: {secretKeyRef: {name: creds, key: password}}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP, apiVersion: v1}}
        envFrom: [{prefix: CFG_, configMapRef: {name: cfg}}, {secretRef: {name: creds}}]
        resources: {limits: {cpu: 500m, memory: 128Mi}, requests: {cpu: 100m, memory: 64Mi}}
        volumeMounts:
        - {name: conf, mountPath: /etc/app, readOnly: true}
        - {name: cache, mountPath: /cache}
        - {name: secret, mountPath: /secret}
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
            scheme: HTTP
            httpHeaders: [{name: X-Probe, value: "1"}]
          initialDelaySeconds: 1
          periodSeconds: 2
          timeoutSeconds: 1
          successThreshold: 1
          failureThreshold: 3
        livenessProbe: {tcpSocket: {port: 80}, terminationGracePeriodSeconds: 10}
        startupProbe: {exec: {command: ["true"]}}
        lifecycle: {preStop: {exec: {command: [sh, -c, sleep 1]}}}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          readOnlyRootFilesystem: true
        terminationMessagePolicy: FallbackToLogsOnError
        stdin: false
        tty: false
      volumes:
      - {name: conf, configMap: {name: cfg, items: [{key: app.conf, path: app.conf}],
                                 defaultMode: 420}}
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
      - {name: secret, secret: {secretName: creds, optional: false}}
status: {replicas: 2, conditions: [{type: Available, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP, nodePort: 30080,
           appProtocol: http}]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  publishNotReadyAddresses: false
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
status: {loadBalancer: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: one, namespace: shop}
spec:
  restartPolicy: OnFailure
  activeDeadlineSeconds: 60
  containers: [{name: c, image: busybox, livenessProbe: {grpc: {port: 9090, service: x}}}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: db, namespace: shop}
subsets:
- addresses: [{ip: 10.210.0.5, hostname: db-0}]
  notReadyAddresses: [{ip: 10.210.0.6}]
  ports: [{name: pg, port: 5432, protocol: TCP, appProtocol: postgresql}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: shop
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
endpoints:
- addresses: [10.210.0.5]
  hostname: db-0
  conditions: {ready: true, serving: true, terminating: false}
  zone: a
ports: [{name: pg, port: 5432, protocol: TCP}]
"""


def test_full_featured_manifests_of_every_kind_have_no_problem() -> None:
    loaded = load_text(FULL, "full.yaml")
    assert loaded.problems == []
    assert sorted({m.kind for m in loaded.manifests}) == [
        "ConfigMap",
        "Deployment",
        "EndpointSlice",
        "Endpoints",
        "Namespace",
        "Pod",
        "Secret",
        "Service",
    ]
    assert [str(p) for p in validate(loaded.manifests)] == []
