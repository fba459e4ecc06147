// Pure reading of Kubernetes objects: keys, readiness, restarts, endpoints and host URLs.
// No DOM here, so tests/js runs it under node.

export const key = (obj) => `${obj.metadata.namespace || ""}/${obj.metadata.name}`;

export function condition(obj, type) {
  return ((obj.status || {}).conditions || []).find((c) => c.type === type);
}

export function podReady(pod) {
  const ready = condition(pod, "Ready");
  return Boolean(ready && ready.status === "True");
}

// status.phase, as the API says it (data-phase, the panel's phase).
export function podPhase(pod) {
  return (pod.status || {}).phase || "Pending";
}

// What kubectl's STATUS column would lead with: Terminating once deleted, else the phase.
export function podStatusText(pod) {
  return pod.metadata.deletionTimestamp ? "Terminating" : podPhase(pod);
}

export function podRestarts(pod) {
  const statuses = (pod.status || {}).containerStatuses || [];
  return statuses.reduce((sum, s) => sum + (s.restartCount || 0), 0);
}

export function containerNames(pod) {
  const spec = pod.spec || {};
  return [...(spec.containers || []), ...(spec.initContainers || [])].map((c) => c.name);
}

// A Service's endpoints, as its EndpointSlices say (label kubernetes.io/service-name), one per
// address: {pod, address, ready, ports}. A nil ready condition means ready (discovery/v1).
export function serviceEndpoints(service, slices) {
  const ns = service.metadata.namespace;
  const name = service.metadata.name;
  const seen = new Map();
  for (const slice of slices) {
    const labels = slice.metadata.labels || {};
    if (slice.metadata.namespace !== ns || labels["kubernetes.io/service-name"] !== name) continue;
    const ports = (slice.ports || []).map((p) => p.port).filter((p) => p != null);
    for (const ep of slice.endpoints || []) {
      const ref = ep.targetRef || {};
      const pod = ref.kind === "Pod" ? ref.name : "";
      const address = (ep.addresses || [])[0] || "";
      const ready = ((ep.conditions || {}).ready) !== false;
      const id = pod || address;
      if (!seen.has(id)) seen.set(id, { pod, address, ready, ports });
    }
  }
  return [...seen.values()].sort((a, b) => (a.pod || a.address).localeCompare(b.pod || b.address));
}

// Where the host reaches one port of a Service (localsvc/host/hostports.py host_url): its
// LoadBalancer ingress, else its NodePort; null for a port only reachable inside.
export function hostUrl(service, port, hostAddress, scheme = "http") {
  const host = hostAddress && hostAddress !== "0.0.0.0" ? hostAddress : "127.0.0.1";
  const ingress = (((service.status || {}).loadBalancer || {}).ingress) || [];
  if ((service.spec || {}).type === "LoadBalancer" && ingress.length) {
    return `${scheme}://${ingress[0].ip || host}:${port.port}`;
  }
  if (port.nodePort) return `${scheme}://${host}:${port.nodePort}`;
  return null;
}

export function hostUrls(service, hostAddress) {
  return ((service.spec || {}).ports || [])
    .map((p) => hostUrl(service, p, hostAddress))
    .filter((u) => u !== null);
}

export function portText(port) {
  const target = port.targetPort != null && port.targetPort !== port.port ? `→${port.targetPort}` : "";
  const node = port.nodePort ? ` (node ${port.nodePort})` : "";
  return `${port.port}${target}/${port.protocol || "TCP"}${node}`;
}

// An Event's time: the newest of its timestamps (core/v1 and events.k8s.io styles).
export function eventTime(ev) {
  const t = ev.lastTimestamp || ev.eventTime || (ev.series || {}).lastObservedTime
    || ev.firstTimestamp || ev.metadata.creationTimestamp;
  return t ? Date.parse(t) : 0;
}

export function clock(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
