// Draws a scene (scene.js) into svg#map. State is never colour alone: every endpoint and pod
// says "✓ ready" / "✗ not ready", and a not-ready link is dashed.

import { s } from "./dom.js";

function textLines(lines, x, y, cls) {
  return lines.map((line, i) => s("text", { x: x + 8, y: y + 16 + i * 15,
    class: i === 0 ? `${cls} title` : cls }, line));
}

function clickable(g, onClick, label) {
  g.setAttribute("tabindex", "0");
  g.setAttribute("role", "button");
  g.setAttribute("aria-label", label);
  g.addEventListener("click", onClick);
  g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") onClick(e); });
  return g;
}

export function drawMap(svg, scene, { onService, onPod, selected }) {
  svg.setAttribute("viewBox", `0 0 ${scene.width} ${scene.height}`);
  svg.setAttribute("height", String(scene.height));
  const parts = [];
  parts.push(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
  s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
  for (const r of scene.regions) {
    parts.push(s("g", { class: "region", "data-testid": "namespace", "data-namespace": r.namespace },
      s("rect", { x: r.x, y: r.y, width: r.w, height: r.h, rx: 8 }),
      s("text", { x: r.x + 10, y: r.y + 19, class: "region-title" }, `namespace ${r.namespace}`)));
  }
  for (const l of scene.links) {
    const mx = (l.x1 + l.x2) / 2;
    parts.push(s("path", { class: `link link-${l.kind}`, "marker-end": "url(#arrow)",
      d: `M ${l.x1} ${l.y1} C ${mx} ${l.y1}, ${mx} ${l.y2}, ${l.x2} ${l.y2}` }));
  }
  for (const t of scene.labels) {
    parts.push(s("text", { x: t.x, y: t.y, class: t.muted ? "label muted" : "label" }, t.text));
  }
  for (const hp of scene.hostpaths) {
    parts.push(s("g", { "data-testid": "hostpath", "data-service": hp.service, class: "box hostpath" },
      s("rect", { x: hp.x, y: hp.y, width: hp.w, height: hp.h, rx: 6 }),
      textLines(hp.lines, hp.x, hp.y, "t")));
  }
  for (const b of scene.services) {
    const isSel = selected === `service:${b.key}`;
    const g = s("g", { "data-testid": "service", "data-namespace": b.namespace, "data-name": b.name,
      "data-type": b.type, class: `box service${isSel ? " selected" : ""}` },
    s("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 6 }),
    s("text", { x: b.x + b.w - 8, y: b.y + 16, class: "t badge", "text-anchor": "end" }, "⇄ svc"),
    textLines(b.lines, b.x, b.y, "t"));
    parts.push(clickable(g, () => onService(b.namespace, b.name), `Service ${b.key}`));
  }
  for (const e of scene.endpoints) {
    parts.push(s("g", { "data-testid": "endpoint", "data-service": e.service, "data-pod": e.pod,
      "data-ready": String(e.ready), class: `box endpoint ${e.ready ? "ready" : "notready"}` },
    s("rect", { x: e.x, y: e.y, width: e.w, height: e.h, rx: 4 }),
    s("text", { x: e.x + 8, y: e.y + 13, class: "t state" }, e.lines[0]),
    s("text", { x: e.x + 8, y: e.y + 26, class: "t small" }, e.lines[1])));
  }
  for (const p of scene.pods) {
    const isSel = selected === `pod:${p.namespace}/${p.name}`;
    const g = s("g", { "data-testid": "pod", "data-namespace": p.namespace, "data-name": p.name,
      "data-phase": p.phase, "data-ready": String(p.ready),
      class: `box pod ${p.ready ? "ready" : "notready"}${isSel ? " selected" : ""}` },
    s("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: 4 }),
    s("text", { x: p.x + 8, y: p.y + 14, class: "t title" }, clip(p.lines[0], p.w)),
    s("text", { x: p.x + 8, y: p.y + 29, class: "t state" }, p.lines[1]));
    parts.push(clickable(g, () => onPod(p.namespace, p.name), `Pod ${p.namespace}/${p.name}`));
  }
  for (const x of scene.externals) {
    parts.push(s("g", { "data-testid": "external", "data-service": x.service, class: "box external" },
      s("rect", { x: x.x, y: x.y, width: x.w, height: x.h, rx: 6 }),
      textLines(x.lines, x.x, x.y, "t")));
  }
  if (!scene.regions.length) {
    parts.push(s("text", { x: 20, y: 40, class: "label muted" }, "No Services or pods yet: `localsvc apply -f …`"));
  }
  svg.replaceChildren(...keepUnchanged(svg, parts));
}

// An element keeps its DOM node while its object is on the map; a change rewrites its
// attributes and content in place. Focus, hover and the browser tests' element references
// survive updates (a replaced node would be "stale" to WebDriver).
const previous = new WeakMap(); // svg -> Map(key -> element)

function elementKey(el) {
  const d = el.dataset || {};
  return d.testid ? [d.testid, d.namespace, d.name, d.service, d.pod].join("|") : null;
}

function keepUnchanged(svg, parts) {
  const before = previous.get(svg) || new Map();
  const now = new Map();
  const result = parts.map((el) => {
    const k = elementKey(el);
    if (k === null) return el;
    const old = before.get(k);
    if (!old) {
      now.set(k, el);
      return el;
    }
    if (old.outerHTML !== el.outerHTML) {
      for (const name of old.getAttributeNames()) if (!el.hasAttribute(name)) old.removeAttribute(name);
      for (const name of el.getAttributeNames()) old.setAttribute(name, el.getAttribute(name));
      old.replaceChildren(...el.childNodes);
    }
    now.set(k, old);
    return old;
  });
  previous.set(svg, now);
  return result;
}

// Long pod names (deployment-hash-suffix) keep their tail, which tells replicas apart.
function clip(text, width) {
  const max = Math.floor((width - 16) / 7);
  return text.length > max ? `…${text.slice(text.length - max + 1)}` : text;
}
