// Small builders of the Kubernetes objects the dashboard's pure modules read.

export function pod(name, { ns = "default", ready = true, phase = "Running", restarts = 0,
  readySince = "2026-01-01T10:00:00Z", containers = [{ name: "app" }], statuses } = {}) {
  return {
    metadata: { name, namespace: ns, uid: `uid-${name}` },
    spec: { containers },
    status: {
      phase,
      conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: readySince }],
      containerStatuses: statuses || containers.map((c) => ({ name: c.name, ready, restartCount: restarts,
        started: true, state: { running: { startedAt: "2026-01-01T09:59:00Z" } } })),
    },
  };
}

export function service(name, { ns = "default", type = "ClusterIP", clusterIP = "10.96.0.5",
  ports = [{ port: 80, targetPort: 80, protocol: "TCP" }], externalName, ingress } = {}) {
  const spec = { type, ports };
  if (type === "ExternalName") spec.externalName = externalName;
  else spec.clusterIP = clusterIP;
  return { metadata: { name, namespace: ns }, spec,
    status: ingress ? { loadBalancer: { ingress: [{ ip: ingress }] } } : {} };
}

export function slice(serviceName, endpoints, { ns = "default", name = `${serviceName}-abc`, port = 80 } = {}) {
  return {
    metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": serviceName } },
    ports: [{ port }],
    endpoints: endpoints.map(([podName, address, ready]) => ({
      addresses: [address],
      conditions: ready === undefined ? {} : { ready },
      targetRef: podName ? { kind: "Pod", name: podName, namespace: ns } : undefined,
    })),
  };
}

export function event(reason, message, { pod: podName = "p", ns = "default", time = "2026-01-01T10:00:00Z",
  type = "Warning", fieldPath, count = 1, component } = {}) {
  return {
    metadata: { name: `${podName}.${reason}.${time}`, namespace: ns },
    involvedObject: { kind: "Pod", name: podName, namespace: ns, fieldPath },
    reason, message, type, count, lastTimestamp: time,
    source: component ? { component } : {},
  };
}
