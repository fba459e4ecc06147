// #activity: the foreground dev loop's steps, recorded as Events by component localsvc-devloop.

import { h } from "./dom.js";
import { clock, eventTime } from "./objects.js";

export const DEVLOOP = "localsvc-devloop";
const MAX_ITEMS = 100;

export function isDevloopEvent(ev) {
  return (ev.source || {}).component === DEVLOOP || ev.reportingComponent === DEVLOOP
    || ev.reportingController === DEVLOOP;
}

export function renderActivity(list, empty, events) {
  const items = events.filter(isDevloopEvent).sort((a, b) => eventTime(b) - eventTime(a)).slice(0, MAX_ITEMS);
  empty.hidden = items.length > 0;
  list.replaceChildren(...items.map((ev) => {
    const failed = ev.type === "Warning";
    const io = ev.involvedObject || {};
    return h("li", { "data-testid": "activity-item", class: failed ? "warning" : "" },
      h("span", { class: "time" }, clock(eventTime(ev))), " ",
      failed ? "✗ " : "✓ ", h("strong", {}, ev.reason || ""), " ", ev.message || "",
      io.kind && io.kind !== "Namespace" ? h("span", { class: "muted" }, ` (${io.kind.toLowerCase()}/${io.name})`) : null);
  }));
}
