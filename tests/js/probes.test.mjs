import assert from "node:assert/strict";
import test from "node:test";

import { isDevloopEvent } from "../../localsvc/host/dashboard/static/activity.js";
import { podEvents, probeResults } from "../../localsvc/host/dashboard/static/probes.js";
import { event, pod } from "./fixtures.mjs";

const probed = (ready) => pod("web", { ready, containers: [{ name: "app",
  readinessProbe: { httpGet: { path: "/healthz", port: 80 } }, livenessProbe: { tcpSocket: { port: 80 } } }] });

test("the newest Unhealthy event per probe gives its output (as localsvc's node words it)", () => {
  const events = [
    event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", { pod: "web", time: "2026-01-01T10:00:05Z", count: 3, fieldPath: "spec.containers{app}" }),
    event("Unhealthy", "Readiness probe failed: Get \"http://10.0.0.2:80/healthz\": connection refused", { pod: "web", time: "2026-01-01T10:00:01Z", fieldPath: "spec.containers{app}" }),
    event("Unhealthy", "Readiness probe failed: other pod", { pod: "other", time: "2026-01-01T10:00:09Z" }),
  ];
  const [readiness, liveness] = probeResults(probed(false), events);
  assert.deepEqual([readiness.probe, readiness.container, readiness.ok], ["readiness", "app", false]);
  assert.equal(readiness.output, "HTTP probe failed with statuscode: 500");
  assert.equal(readiness.text, "✗ failing (3×)");
  assert.deepEqual([liveness.probe, liveness.ok, liveness.text], ["liveness", true, "✓ passing"]);
});

test("a ready pod's readiness passes and remembers its last failure; no probes, no results", () => {
  const events = [event("Unhealthy", "Readiness probe failed: timeout", { pod: "web" })];
  const [readiness] = probeResults(probed(true), events);
  assert.equal(readiness.ok, true);
  assert.equal(readiness.text, "✓ passing (last failure 1×)");
  assert.deepEqual(probeResults(pod("plain"), events), []);
});

test("a liveness failure before the container's last start is history, a later one is current", () => {
  const p = probed(true);
  const before = [event("Unhealthy", "Liveness probe failed: dial tcp: refused", { pod: "web", time: "2026-01-01T09:00:00Z" })];
  assert.equal(probeResults(p, before)[1].ok, true);
  const after = [event("Unhealthy", "Liveness probe failed: dial tcp: refused", { pod: "web", time: "2026-01-01T10:30:00Z" })];
  assert.equal(probeResults(p, after)[1].ok, false);
});

test("pod events are the pod's own (namespace and uid), newest first", () => {
  const p = pod("web");
  const evs = [event("Pulled", "x", { pod: "web", time: "2026-01-01T10:00:00Z" }),
    event("Started", "y", { pod: "web", time: "2026-01-01T10:00:02Z" }),
    event("Started", "z", { pod: "web", ns: "other" })];
  assert.deepEqual(podEvents(p, evs).map((e) => e.reason), ["Started", "Pulled"]);
  evs[0].involvedObject.uid = "an-older-pod";
  assert.deepEqual(podEvents(p, evs).map((e) => e.reason), ["Started"]);
});

test("dev loop events are told by their component", () => {
  assert.equal(isDevloopEvent(event("Rebuilt", "rebuilt demo:1 in 2.3 s", { component: "localsvc-devloop" })), true);
  assert.equal(isDevloopEvent({ ...event("Synced", "x"), reportingComponent: "localsvc-devloop" }), true);
  assert.equal(isDevloopEvent(event("Started", "x", { component: "kubelet" })), false);
});
