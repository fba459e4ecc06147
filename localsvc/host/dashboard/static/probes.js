// A pod's last probe results, from its Unhealthy / ProbeWarning Events (the kubelet's, and the
// localsvc node's: "Readiness probe failed: <output>") and its conditions. Pure.

import { eventTime } from "./objects.js";

const KINDS = ["Readiness", "Liveness", "Startup"];
const PATTERN = /^(Startup|Liveness|Readiness) probe (failed|errored|warning)[^:]*:\s*([\s\S]*)$/;

function containerOf(ev) {
  const path = (ev.involvedObject || {}).fieldPath || "";
  const m = /\{(.+)\}/.exec(path);
  return m ? m[1] : "";
}

export function podEvents(pod, events) {
  const ns = pod.metadata.namespace;
  const name = pod.metadata.name;
  const uid = pod.metadata.uid;
  return events.filter((ev) => {
    const io = ev.involvedObject || {};
    return io.kind === "Pod" && io.name === name && (io.namespace || ev.metadata.namespace) === ns
      && (!io.uid || !uid || io.uid === uid);
  }).sort((a, b) => eventTime(b) - eventTime(a));
}

// -> [{probe, container, ok, text, output, time, count}] one per probe kind and container the
// pod defines, newest failure's output first.
export function probeResults(pod, events) {
  const spec = pod.spec || {};
  const statuses = new Map(((pod.status || {}).containerStatuses || []).map((s) => [s.name, s]));
  const failures = new Map();
  for (const ev of podEvents(pod, events)) {
    if (ev.reason !== "Unhealthy" && ev.reason !== "ProbeWarning") continue;
    const m = PATTERN.exec(ev.message || "");
    if (!m) continue;
    const id = `${m[1]}/${containerOf(ev)}`;
    if (!failures.has(id)) {
      failures.set(id, { time: eventTime(ev), output: m[3].trim(), count: ev.count || 1,
        warning: m[2] === "warning" });
    }
  }
  const results = [];
  for (const c of spec.containers || []) {
    for (const kind of KINDS) {
      if (!c[`${kind.toLowerCase()}Probe`]) continue;
      const fail = failures.get(`${kind}/${c.name}`) || failures.get(`${kind}/`);
      const status = statuses.get(c.name) || {};
      const running = (status.state || {}).running;
      const startedAt = running && running.startedAt ? Date.parse(running.startedAt) : 0;
      let ok;
      if (kind === "Readiness") ok = Boolean(status.ready);
      else if (kind === "Startup") ok = Boolean(status.started);
      // The kubelet records failures only: a liveness failure before the container's last
      // start is history; a later one is the current state.
      else ok = Boolean(running) && (!fail || fail.time < startedAt);
      const text = ok ? (fail ? `✓ passing (last failure ${fail.count}×)` : "✓ passing")
        : (fail ? `✗ failing (${fail.count}×)` : "✗ not passing yet");
      results.push({ probe: kind.toLowerCase(), container: c.name, ok, text,
        output: fail ? fail.output : "", time: fail ? fail.time : 0 });
    }
  }
  return results;
}
