import assert from "node:assert/strict";
import test from "node:test";

import { deploymentCommands, podCommands, serviceCommands, shellQuote }
  from "../../localsvc/host/dashboard/static/commands.js";

const info = { env: "dev", context: "localsvc-dev" };

test("the endpoint slices command is the contract's, with the environment's context", () => {
  const [endpoints, describe, url] = serviceCommands(info, "default", "backend-service", true);
  assert.equal(endpoints.command,
    "kubectl --context localsvc-dev get endpointslices -n default -l kubernetes.io/service-name=backend-service");
  assert.equal(describe.command, "kubectl --context localsvc-dev describe service backend-service -n default");
  assert.equal(url.command, "localsvc url svc/backend-service -n default --env dev");
  assert.equal(serviceCommands(info, "default", "x", false).length, 2);
});

test("without a known context or environment, the current ones are meant", () => {
  const [logs] = podCommands({ env: "", context: "" }, "default", "web-1", "app");
  assert.equal(logs.command, "kubectl logs -n default web-1 -c app -f");
});

test("deployment commands: scale to the number shown, rollout restart", () => {
  const [scale, restart] = deploymentCommands(info, "shop", "web", 4);
  assert.equal(scale.command, "kubectl --context localsvc-dev scale deployment/web -n shop --replicas=4");
  assert.equal(restart.command, "kubectl --context localsvc-dev rollout restart deployment/web -n shop");
});

test("words a shell would split or expand are quoted", () => {
  assert.equal(shellQuote("plain-word_1.2"), "plain-word_1.2");
  assert.equal(shellQuote("two words"), "'two words'");
  assert.equal(shellQuote("it's"), "'it'\"'\"'s'");
  assert.equal(shellQuote("$(x)"), "'$(x)'");
  assert.equal(shellQuote(""), "''");
});
