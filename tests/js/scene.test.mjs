import assert from "node:assert/strict";
import test from "node:test";

import { buildScene } from "../../localsvc/host/dashboard/static/scene.js";
import { pod, service, slice } from "./fixtures.mjs";

const backend = () => ({
  services: [service("backend-service")],
  slices: [slice("backend-service", [["b-1", "10.0.0.2", true], ["b-2", "10.0.0.3", true], ["b-3", "10.0.0.4", false]])],
  pods: [pod("b-1"), pod("b-2"), pod("b-3", { ready: false }), pod("client")],
});

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test("backend-service: three endpoints, each pod once, not-ready ones apart by text and line", () => {
  const scene = buildScene(backend());
  assert.equal(scene.services.length, 1);
  assert.deepEqual(scene.endpoints.map((e) => [e.pod, e.ready, e.lines[0]]),
    [["b-1", true, "✓ ready"], ["b-2", true, "✓ ready"], ["b-3", false, "✗ not ready"]]);
  assert.deepEqual(scene.pods.map((p) => p.name).sort(), ["b-1", "b-2", "b-3", "client"]);
  const notReadyLinks = scene.links.filter((l) => l.kind === "notready");
  assert.equal(notReadyLinks.length, 2); // service -> endpoint -> pod, both dashed
  assert.match(scene.pods.find((p) => p.name === "b-3").lines[1], /✗ not ready/);
});

test("no two boxes overlap and everything fits the scene", () => {
  const input = backend();
  input.services.push(service("np", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
    service("ext", { type: "ExternalName", externalName: "db.example.com" }),
    service("dns", { ns: "kube-system" }));
  input.slices.push(slice("np", [["b-1", "10.0.0.2", true]]));
  input.pods.push(...Array.from({ length: 9 }, (_, i) => pod(`stray-${i}`)));
  const scene = buildScene(input);
  const boxes = [...scene.services, ...scene.endpoints, ...scene.pods, ...scene.hostpaths, ...scene.externals];
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i];
    assert.ok(b.x >= 0 && b.x + b.w <= scene.width && b.y + b.h <= scene.height, `inside: ${b.name || b.service}`);
    for (let j = i + 1; j < boxes.length; j++) {
      assert.ok(!overlaps(b, boxes[j]), `${b.name || b.service} overlaps ${boxes[j].name || boxes[j].service}`);
    }
  }
  const regions = scene.regions.map((r) => r.namespace);
  assert.deepEqual(regions, ["default", "kube-system"]);
  for (const b of boxes) {
    const r = scene.regions.find((reg) => reg.namespace === (b.namespace || (b.service || "").split("/")[0]));
    assert.ok(r && b.y >= r.y && b.y + b.h <= r.y + r.h, "each box inside its namespace");
  }
});

test("host path and ExternalName target are drawn for the Services that have them", () => {
  const scene = buildScene({ services: [
    service("np", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
    service("lb", { type: "LoadBalancer", ingress: "127.0.0.1", ports: [{ port: 8080, nodePort: 30081 }] }),
    service("ext", { type: "ExternalName", externalName: "host.docker.internal" }),
    service("plain")], slices: [], pods: [] }, { hostAddress: "127.0.0.1" });
  assert.deepEqual(scene.hostpaths.map((h) => [h.service, h.urls]),
    [["default/lb", ["http://127.0.0.1:8080"]], ["default/np", ["http://127.0.0.1:30080"]]]);
  assert.ok(scene.hostpaths[0].lines.includes("LoadBalancer · svclb"));
  assert.deepEqual(scene.externals.map((x) => [x.service, x.target]), [["default/ext", "host.docker.internal"]]);
  assert.equal(scene.services.find((s) => s.name === "np").lines.at(-1), "host http://127.0.0.1:30080");
  assert.deepEqual(scene.labels.filter((l) => l.text === "no endpoints").length, 3);
});

test("a pod behind two Services is drawn once and linked from both", () => {
  const scene = buildScene({ services: [service("a"), service("b")],
    slices: [slice("a", [["p", "10.0.0.2", true]]), slice("b", [["p", "10.0.0.2", true]])], pods: [pod("p")] });
  assert.equal(scene.pods.length, 1);
  assert.equal(scene.endpoints.length, 2);
  const p = scene.pods[0];
  assert.equal(scene.links.filter((l) => l.x2 === p.x).length, 2);
});

test("the default namespace comes first, then by name", () => {
  const scene = buildScene({ services: [service("x", { ns: "zeta" }), service("y", { ns: "alpha" }), service("z", { ns: "dev" })],
    slices: [], pods: [] }, { namespace: "dev" });
  assert.deepEqual(scene.regions.map((r) => r.namespace), ["dev", "alpha", "zeta"]);
});

test("an ExternalName naming a Service of the environment says which", () => {
  const scene = buildScene({ services: [
    service("database", { ns: "api", type: "ExternalName", externalName: "db.data.svc.cluster.local" }),
    service("elsewhere", { ns: "api", type: "ExternalName", externalName: "db.example.com" }),
    service("db", { ns: "data" })], slices: [], pods: [] });
  const ext = (name) => scene.externals.find((x) => x.service === `api/${name}`);
  assert.deepEqual(ext("database").lines, ["external name", "→ db.data.svc.cluster.local", "(the Service data/db here)"]);
  assert.deepEqual(ext("elsewhere").lines, ["external name", "→ db.example.com"]);
  assert.ok(ext("database").h > ext("elsewhere").h);
});
