// The map's layout: Kubernetes objects in, a scene of positioned boxes and links out. Pure (no
// DOM), so tests/js checks it under node; map.js draws the scene as SVG.
//
// Per namespace, one row per Service, left to right: the host path (NodePort/LoadBalancer), the
// Service, its endpoints (one per address), the pods behind them. A pod behind two Services is
// drawn once and linked twice. Pods behind no Service follow in a grid.

import { hostUrls, podPhase, podReady, podRestarts, podStatusText, portText, serviceEndpoints }
  from "./objects.js";

export const WIDTH = 860;
export const COL = {
  host: { x: 10, w: 172 },
  service: { x: 200, w: 240 },
  endpoint: { x: 466, w: 130 },
  pod: { x: 620, w: 230 },
};
const LINE = 15;
const ROW = 46;
const POD_H = 36;
const EP_H = 32;
const HEADER = 30;
const GAP = 14;
const GRID_W = 200;

const byName = (a, b) => a.metadata.name.localeCompare(b.metadata.name);

function serviceLines(svc, urls) {
  const spec = svc.spec || {};
  const type = spec.type || "ClusterIP";
  const lines = [svc.metadata.name];
  if (type === "ExternalName") lines.push("ExternalName · no ClusterIP");
  else lines.push(`${type} · ${spec.clusterIP === "None" ? "headless" : (spec.clusterIP || "no IP")}`);
  for (const p of spec.ports || []) lines.push(portText(p));
  for (const u of urls) lines.push(`host ${u}`);
  return lines;
}

function podBox(pod, x, y, w) {
  const ready = podReady(pod);
  const restarts = podRestarts(pod);
  return {
    namespace: pod.metadata.namespace, name: pod.metadata.name, phase: podPhase(pod), ready,
    restarts, x, y, w, h: POD_H,
    lines: [pod.metadata.name,
      `${podStatusText(pod)} · ${ready ? "✓ ready" : "✗ not ready"}${restarts ? ` · ↻ ${restarts}` : ""}`],
  };
}

// An ExternalName naming a Service of this environment (NAME.NS.svc[.cluster domain]): "NS/NAME".
function clusterService(target, services) {
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\..*)?\.?$/.exec(target);
  if (!m) return null;
  const found = services.find((o) => o.metadata.name === m[1] && o.metadata.namespace === m[2]);
  return found ? `${m[2]}/${m[1]}` : null;
}

// namespaces: ordered with `first` (the default namespace) first, then by name.
function namespaceOrder(names, first) {
  return [...names].sort((a, b) => (a === first ? -1 : b === first ? 1 : a.localeCompare(b)));
}

export function buildScene({ services, slices, pods }, { hostAddress = "127.0.0.1", namespace = "default" } = {}) {
  const scene = { width: WIDTH, height: 0, regions: [], services: [], hostpaths: [], endpoints: [],
    pods: [], externals: [], links: [], labels: [] };
  const nsNames = new Set([...services, ...pods].map((o) => o.metadata.namespace));
  let y = 8;
  for (const ns of namespaceOrder(nsNames, namespace)) {
    const top = y;
    y += HEADER;
    const placed = new Map(); // pod name -> pod box
    const nsPods = pods.filter((p) => p.metadata.namespace === ns).sort(byName);
    const podByName = new Map(nsPods.map((p) => [p.metadata.name, p]));
    for (const svc of services.filter((s) => s.metadata.namespace === ns).sort(byName)) {
      const svcKey = `${ns}/${svc.metadata.name}`;
      const type = (svc.spec || {}).type || "ClusterIP";
      const urls = hostUrls(svc, hostAddress);
      const lines = serviceLines(svc, urls);
      const box = { namespace: ns, name: svc.metadata.name, key: svcKey, type, urls, lines,
        x: COL.service.x, y, w: COL.service.w, h: 10 + LINE * lines.length };
      scene.services.push(box);
      const mid = (b) => b.y + b.h / 2;
      if (urls.length) {
        const via = type === "LoadBalancer" ? "LoadBalancer · svclb" : "NodePort · svclb";
        const hp = { service: svcKey, urls, lines: ["from your machine", via, ...urls],
          x: COL.host.x, y, w: COL.host.w, h: 10 + LINE * (2 + urls.length) };
        scene.hostpaths.push(hp);
        scene.links.push({ kind: "host", x1: hp.x + hp.w, y1: mid(hp), x2: box.x, y2: mid(hp) });
      }
      let rows = 1;
      if (type === "ExternalName") {
        const target = (svc.spec || {}).externalName || "";
        const inside = clusterService(target, services);
        const ext = { service: svcKey, target,
          lines: ["external name", `→ ${target}`, ...(inside ? [`(the Service ${inside} here)`] : [])],
          x: COL.endpoint.x, y, w: COL.endpoint.w + COL.pod.w + 24, h: 10 + LINE * 2 };
        ext.h = 10 + LINE * ext.lines.length;
        scene.externals.push(ext);
        scene.links.push({ kind: "external", x1: box.x + box.w, y1: mid(ext), x2: ext.x, y2: mid(ext) });
      } else {
        const eps = serviceEndpoints(svc, slices);
        rows = Math.max(1, eps.length);
        if (!eps.length) {
          scene.labels.push({ text: "no endpoints", x: COL.endpoint.x, y: y + 20, muted: true });
        }
        eps.forEach((ep, i) => {
          const ey = y + i * ROW;
          const epBox = { service: svcKey, pod: ep.pod, address: ep.address, ready: ep.ready,
            lines: [ep.ready ? "✓ ready" : "✗ not ready", ep.address + (ep.ports[0] ? `:${ep.ports[0]}` : "")],
            x: COL.endpoint.x, y: ey + (POD_H - EP_H) / 2, w: COL.endpoint.w, h: EP_H };
          scene.endpoints.push(epBox);
          const style = ep.ready ? "ready" : "notready";
          scene.links.push({ kind: style, x1: box.x + box.w, y1: Math.min(mid(box), box.y + 20),
            x2: epBox.x, y2: mid(epBox) });
          if (ep.pod && podByName.has(ep.pod)) {
            let pb = placed.get(ep.pod);
            if (!pb) {
              pb = podBox(podByName.get(ep.pod), COL.pod.x, ey, COL.pod.w);
              placed.set(ep.pod, pb);
              scene.pods.push(pb);
            }
            scene.links.push({ kind: style, x1: epBox.x + epBox.w, y1: mid(epBox), x2: pb.x, y2: mid(pb) });
          }
        });
      }
      y += Math.max(box.h, rows * ROW - (ROW - POD_H),
        ...[...scene.hostpaths, ...scene.externals].filter((b) => b.service === svcKey).map((b) => b.h)) + GAP;
    }
    const rest = nsPods.filter((p) => !placed.has(p.metadata.name));
    if (rest.length) {
      scene.labels.push({ text: "pods behind no Service", x: COL.host.x, y: y + 10, muted: true });
      y += 18;
      const perRow = Math.floor((WIDTH - COL.host.x) / (GRID_W + 10));
      rest.forEach((pod, i) => {
        const pb = podBox(pod, COL.host.x + (i % perRow) * (GRID_W + 10),
          y + Math.floor(i / perRow) * ROW, GRID_W);
        scene.pods.push(pb);
      });
      y += Math.ceil(rest.length / perRow) * ROW;
    }
    y += 6;
    scene.regions.push({ namespace: ns, x: 2, y: top, w: WIDTH - 4, h: y - top });
    y += 10;
  }
  scene.height = Math.max(y, 120);
  return scene;
}
