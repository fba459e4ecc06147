import assert from "node:assert/strict";
import test from "node:test";

import { logPath } from "../../localsvc/host/dashboard/static/api.js";

test("log paths: container, follow, and previous (which cannot follow)", () => {
  assert.equal(logPath("default", "web-1", { container: "app", follow: true }),
    "/api/v1/namespaces/default/pods/web-1/log?tailLines=1000&container=app&follow=true");
  assert.equal(logPath("default", "web-1", { container: "app", previous: true, follow: true }),
    "/api/v1/namespaces/default/pods/web-1/log?tailLines=1000&container=app&previous=true");
  assert.equal(logPath("dev", "web-1", { follow: false, tailLines: 50 }),
    "/api/v1/namespaces/dev/pods/web-1/log?tailLines=50");
});
