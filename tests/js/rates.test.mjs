import assert from "node:assert/strict";
import test from "node:test";

import { rateText, rates } from "../../localsvc/host/dashboard/static/rates.js";

const sample = (time, counting, services) => ({ kind: "ConnectionCounts", time, counting,
  services: services.map(([namespace, name, port, connections]) => ({ namespace, name, port, protocol: "TCP", connections })) });

test("connections per second sum a Service's ports over the time between samples", () => {
  const a = sample(100, "nftables", [["default", "web", 80, 10], ["default", "web", 443, 5], ["default", "db", 5432, 7]]);
  const b = sample(102, "nftables", [["default", "web", 80, 20], ["default", "web", 443, 9], ["default", "db", 5432, 7]]);
  const r = rates(a, b);
  assert.equal(r.rates.get("default/web"), 7);
  assert.equal(r.rates.get("default/db"), 0);
  assert.equal(rateText(r, "default/web"), "7.0 connections/s (nftables)");
});

test("not counted when counting is null; waiting before a second sample; a reset counter is 0", () => {
  const off = rates(null, sample(1, null, []));
  assert.equal(rateText(off, "default/web"), "not counted");
  const first = rates(null, sample(1, "userspace", [["default", "web", 80, 3]]));
  assert.equal(rateText(first, "default/web"), "waiting for counts…");
  const reset = rates(sample(1, "userspace", [["default", "web", 80, 30]]), sample(2, "userspace", [["default", "web", 80, 2]]));
  assert.equal(reset.rates.get("default/web"), 0);
  const newService = rates(sample(1, "nftables", []), sample(2, "nftables", [["default", "new", 80, 4]]));
  assert.equal(newService.rates.get("default/new"), 0);
  const switched = rates(sample(1, "nftables", [["default", "web", 80, 1]]), sample(2, "userspace", [["default", "web", 80, 9]]));
  assert.equal(switched.rates.size, 0);
});
