import assert from "node:assert/strict";
import test from "node:test";

import { hostUrl, hostUrls, podPhase, podReady, podRestarts, podStatusText, portText, serviceEndpoints }
  from "../../localsvc/host/dashboard/static/objects.js";
import { pod, service, slice } from "./fixtures.mjs";

test("endpoints come from the Service's slices, one per address, nil ready means ready", () => {
  const svc = service("web");
  const slices = [
    slice("web", [["web-b", "10.0.0.3", false], ["web-a", "10.0.0.2", undefined]]),
    slice("web", [["web-a", "10.0.0.2", true]], { name: "web-second" }),
    slice("other", [["x", "10.0.0.9", true]]),
    slice("web", [["y", "10.0.0.8", true]], { ns: "elsewhere" }),
  ];
  assert.deepEqual(serviceEndpoints(svc, slices), [
    { pod: "web-a", address: "10.0.0.2", ready: true, ports: [80] },
    { pod: "web-b", address: "10.0.0.3", ready: false, ports: [80] },
  ]);
});

test("an endpoint without a pod (selector-less Service) is known by its address", () => {
  const eps = serviceEndpoints(service("kubernetes"), [slice("kubernetes", [[null, "10.0.0.2", true]], { port: 443 })]);
  assert.deepEqual(eps, [{ pod: "", address: "10.0.0.2", ready: true, ports: [443] }]);
});

test("host URLs follow hostports.host_url: LoadBalancer ingress, else NodePort, else none", () => {
  const lb = service("lb", { type: "LoadBalancer", ingress: "127.0.0.1", ports: [{ port: 8080, nodePort: 30001 }] });
  assert.equal(hostUrl(lb, lb.spec.ports[0], "127.0.0.1"), "http://127.0.0.1:8080");
  const pending = service("lb2", { type: "LoadBalancer", ports: [{ port: 8080, nodePort: 30002 }] });
  assert.equal(hostUrl(pending, pending.spec.ports[0], "127.0.0.1"), "http://127.0.0.1:30002");
  const np = service("np", { type: "NodePort", ports: [{ port: 80, nodePort: 30003 }, { port: 81, nodePort: 30004 }] });
  assert.deepEqual(hostUrls(np, "0.0.0.0"), ["http://127.0.0.1:30003", "http://127.0.0.1:30004"]);
  assert.deepEqual(hostUrls(service("plain"), "127.0.0.1"), []);
});

test("pod readiness, phase and restarts", () => {
  const p = pod("a", { ready: false, restarts: 2, containers: [{ name: "a" }, { name: "b" }] });
  assert.equal(podReady(p), false);
  assert.equal(podRestarts(p), 4);
  assert.equal(podPhase(p), "Running");
  assert.equal(podStatusText(p), "Running");
  p.metadata.deletionTimestamp = "2026-01-01T10:00:00Z";
  assert.equal(podPhase(p), "Running"); // data-phase stays status.phase
  assert.equal(podStatusText(p), "Terminating");
  assert.equal(podReady(pod("b")), true);
});

test("port text names the target and node port only when they differ or exist", () => {
  assert.equal(portText({ port: 80, targetPort: 80, protocol: "TCP" }), "80/TCP");
  assert.equal(portText({ port: 8080, targetPort: "http", nodePort: 30080 }), "8080→http/TCP (node 30080)");
  assert.equal(portText({ port: 53, protocol: "UDP" }), "53/UDP");
});
