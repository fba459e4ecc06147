import assert from "node:assert/strict";
import test from "node:test";

import { MAX_ENTRIES, entries, newHistory, track } from "../../localsvc/host/dashboard/static/history.js";
import { pod } from "./fixtures.mjs";

const ep = (podName, ready, address = "10.0.0.2") => ({ pod: podName, address, ready, ports: [80] });
const podMap = (...pods) => new Map(pods.map((p) => [`default/${p.metadata.name}`, p]));

test("first sight: a ready endpoint joined when its pod turned Ready; a not-ready one now", () => {
  const h = newHistory();
  const pods = podMap(pod("a", { readySince: "2026-01-01T10:00:00Z" }), pod("b", { ready: false }));
  track(h, "default/web", [ep("a", true), ep("b", false)], pods, Date.parse("2026-01-01T11:00:00Z"));
  assert.deepEqual(entries(h, "default/web"), [
    { time: Date.parse("2026-01-01T11:00:00Z"), id: "b", change: "joined (not ready)" },
    { time: Date.parse("2026-01-01T10:00:00Z"), id: "a", change: "joined" },
  ]);
});

test("first sight without a Ready transition time: present when the page opened", () => {
  const h = newHistory();
  const p = pod("a");
  delete p.status.conditions[0].lastTransitionTime;
  track(h, "default/web", [ep("a", true), ep("", true, "10.0.0.9")], podMap(p), 5000);
  assert.deepEqual(entries(h, "default/web").map((e) => [e.time, e.id, e.change]), [
    [5000, "a", "joined (before the page opened)"], [5000, "10.0.0.9", "joined (before the page opened)"]]);
});

test("later changes: not ready, ready, left and joined, newest first, only what changed", () => {
  const h = newHistory();
  const pods = podMap(pod("a"), pod("b"));
  track(h, "default/web", [ep("a", true), ep("b", true)], pods, 1000);
  assert.deepEqual(track(h, "default/web", [ep("a", true), ep("b", true)], pods, 2000), []);
  assert.deepEqual(track(h, "default/web", [ep("a", false), ep("b", true)], pods, 3000),
    [{ time: 3000, id: "a", change: "not ready" }]);
  track(h, "default/web", [ep("a", true), ep("c", false)], pods, 4000);
  assert.deepEqual(entries(h, "default/web").slice(0, 4).map((e) => [e.time, e.id, e.change]), [
    [4000, "a", "ready"], [4000, "c", "joined (not ready)"], [4000, "b", "left"], [3000, "a", "not ready"]]);
});

test("Services are kept apart and the history is bounded", () => {
  const h = newHistory();
  track(h, "default/one", [], new Map(), 0);
  for (let i = 1; i <= MAX_ENTRIES; i++) {
    track(h, "default/one", i % 2 ? [ep("p", true)] : [], new Map(), i);
  }
  assert.equal(entries(h, "default/one").length, MAX_ENTRIES);
  assert.equal(entries(h, "default/one")[0].time, MAX_ENTRIES);
  assert.deepEqual(entries(h, "default/two"), []);
});
