// Endpoints over time, per Service: when each pod joined, turned ready or not ready, and left.
// Pure: the page feeds it each Service's current endpoints (objects.js serviceEndpoints) after
// every watch event and shows `entries`. Bounded, so a long-open page does not grow forever.

export const MAX_ENTRIES = 200;

export function newHistory() {
  return new Map(); // service key -> {current: Map(endpoint id -> ready), entries: [...]}
}

const endpointId = (ep) => ep.pod || ep.address;

// On the first sight of a Service its endpoints "joined" when their pod last turned Ready (the
// Ready condition's lastTransitionTime), as far as the API knows.
function firstSight(endpoints, pods, ns, now) {
  return endpoints.map((ep) => {
    const pod = ep.pod ? pods.get(`${ns}/${ep.pod}`) : undefined;
    const ready = pod && ((pod.status || {}).conditions || []).find((c) => c.type === "Ready");
    const since = ready && ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : null;
    if (!ep.ready) return { time: now, id: endpointId(ep), change: "joined (not ready)" };
    // Without the condition's time (a selector-less endpoint, or a node that does not set it)
    // all the page knows is that it was there when the page opened.
    return since ? { time: since, id: endpointId(ep), change: "joined" }
      : { time: now, id: endpointId(ep), change: "joined (before the page opened)" };
  }).sort((a, b) => b.time - a.time);
}

// Records what changed for Service `serviceKey` ("ns/name") at `now` (ms); returns the entries
// added (newest first).
export function track(history, serviceKey, endpoints, pods, now) {
  const ns = serviceKey.split("/")[0];
  const current = new Map(endpoints.map((ep) => [endpointId(ep), ep.ready]));
  const known = history.get(serviceKey);
  if (!known) {
    const entries = firstSight(endpoints, pods, ns, now);
    history.set(serviceKey, { current, entries });
    return entries;
  }
  const added = [];
  for (const [id, ready] of current) {
    if (!known.current.has(id)) {
      added.push({ time: now, id, change: ready ? "joined" : "joined (not ready)" });
    } else if (known.current.get(id) !== ready) {
      added.push({ time: now, id, change: ready ? "ready" : "not ready" });
    }
  }
  for (const id of known.current.keys()) {
    if (!current.has(id)) added.push({ time: now, id, change: "left" });
  }
  known.current = current;
  known.entries = [...added, ...known.entries].slice(0, MAX_ENTRIES);
  return added;
}

export function entries(history, serviceKey) {
  const known = history.get(serviceKey);
  return known ? known.entries : [];
}
