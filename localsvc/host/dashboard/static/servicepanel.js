// #service-panel: one Service's endpoints over time, connections per second (the node's
// /v1/connections stream, only while this panel is open), its host URL and copy commands.

import { HttpError, streamLines } from "./api.js";
import { serviceCommands } from "./commands.js";
import { h, commandList } from "./dom.js";
import { entries } from "./history.js";
import { clock, hostUrls, portText, serviceEndpoints } from "./objects.js";
import { rateText, rates } from "./rates.js";

// Each change also has its own sign: the list is readable without its colours.
const ICONS = { joined: "＋", left: "−", ready: "✓", "not ready": "✗" };

export function openServicePanel(root, app, ns, name) {
  const svcKey = `${ns}/${name}`;
  const service = () => app.state.services.get(svcKey);
  const facts = h("dl", { class: "facts" });
  const rate = h("span", { "data-testid": "conn-rate" }, "waiting for counts…");
  const link = h("div", { class: "open-url" });
  const now = h("ul", { class: "endpoints-now" });
  const history = h("ol", { "data-testid": "endpoint-history", class: "events" });
  const commands = h("div");
  const gone = h("p", { class: "warning", hidden: true }, "✗ this Service is gone");

  root.replaceChildren(
    h("div", { class: "panel-head" },
      h("h2", {}, "Service ", h("span", { class: "mono" }, name), h("span", { class: "muted" }, ` · ${ns}`)),
      h("button", { type: "button", class: "close", "aria-label": "close", onclick: () => app.closePanel() }, "✕")),
    gone, facts, link,
    h("p", {}, "⇄ ", rate),
    h("h3", {}, "Endpoints now"), now,
    h("h3", {}, "Endpoint history"), history,
    commands);
  root.hidden = false;

  // Connection counts: only while open (the browser's 6 connections per host are precious).
  const abort = new AbortController();
  let previous = null;
  let result = null;
  const streamCounts = async () => {
    let delay = 1000;
    while (!abort.signal.aborted) {
      try {
        await streamLines("/v1/connections?watch=1", (line) => {
          if (!line.trim()) return;
          const sample = JSON.parse(line);
          if (sample.kind !== "ConnectionCounts") { // the node could not read them this second
            rate.textContent = `counts unavailable: ${sample.message || "unknown error"}`;
            return;
          }
          result = rates(previous, sample);
          previous = sample;
          rate.textContent = rateText(result, svcKey);
        }, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof HttpError && err.status === 404) {
          rate.textContent = "not counted (this node has no connection counts)";
          return;
        }
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  };
  streamCounts();

  const refresh = () => {
    const svc = service();
    gone.hidden = Boolean(svc);
    if (!svc) return;
    const spec = svc.spec || {};
    const urls = hostUrls(svc, app.state.info.hostAddress);
    const type = spec.type || "ClusterIP";
    facts.replaceChildren(
      h("dt", {}, "type"), h("dd", {}, type),
      h("dt", {}, type === "ExternalName" ? "external name" : "ClusterIP"),
      h("dd", { class: "mono" }, type === "ExternalName" ? spec.externalName || "" : spec.clusterIP || "none"),
      h("dt", {}, "ports"), h("dd", { class: "mono" }, (spec.ports || []).map(portText).join(", ") || "none"),
      h("dt", {}, "selector"), h("dd", { class: "mono" },
        Object.entries(spec.selector || {}).map(([k, v]) => `${k}=${v}`).join(",") || "none"));
    link.replaceChildren(...(urls.length
      ? [h("a", { href: urls[0], target: "_blank", rel: "noopener", "data-testid": "open-url" }, `↗ open ${urls[0]}`),
        ...urls.slice(1).map((u) => h("a", { href: u, target: "_blank", rel: "noopener" }, ` ↗ ${u}`))]
      : [h("a", { "data-testid": "open-url", "aria-disabled": "true", class: "muted" },
        "no host URL: only reachable inside the environment (NodePort or LoadBalancer publish one)")]));
    const eps = serviceEndpoints(svc, [...app.state.slices.values()]);
    now.replaceChildren(...(eps.length ? eps.map((ep) => h("li", { class: ep.ready ? "ok" : "bad" },
      ep.ready ? "✓ ready " : "✗ not ready ", h("span", { class: "mono" }, ep.pod || ep.address), ` ${ep.address}`))
      : [h("li", { class: "muted" }, type === "ExternalName" ? "none: DNS answers with a CNAME" : "no endpoints")]));
    const hist = entries(app.state.history, svcKey);
    history.replaceChildren(...(hist.length ? hist.map((e) => h("li", { class: e.change.includes("not") || e.change === "left" ? "bad" : "ok" },
      h("span", { class: "time" }, clock(e.time)), " ", ICONS[e.change.split(" (")[0]] || "", " ",
      h("span", { class: "mono" }, e.id), " ", e.change))
      : [h("li", { class: "muted" }, "no endpoints seen since the page opened")]));
    commands.replaceChildren(commandList(serviceCommands(app.state.info, ns, name, urls.length > 0)));
    if (result) rate.textContent = rateText(result, svcKey);
  };
  refresh();
  return {
    key: `service:${svcKey}`,
    refresh,
    close() {
      abort.abort();
      root.hidden = true;
      root.replaceChildren();
    },
  };
}
