// #pod-panel: one pod's phase, readiness, restarts, last probe results, recent events and live
// logs (follow, search, container, previous container), plus delete.

import { deletePod, logPath, streamLines } from "./api.js";
import { podCommands } from "./commands.js";
import { h, commandList } from "./dom.js";
import { clock, condition, containerNames, eventTime, podPhase, podReady, podRestarts } from "./objects.js";
import { podEvents, probeResults } from "./probes.js";

const MAX_LINES = 5000;

export function openPodPanel(root, app, ns, name) {
  const pod = () => app.state.pods.get(`${ns}/${name}`);
  const first = pod();
  const containers = first ? containerNames(first) : [];
  const field = (testid) => h("dd", { "data-testid": testid });
  const phase = field("pod-phase");
  const ready = field("pod-ready");
  const restarts = field("pod-restarts");
  const probes = h("div", { "data-testid": "pod-probes", class: "probes" });
  const events = h("ol", { "data-testid": "pod-events", class: "events" });
  const search = h("input", { type: "search", "data-testid": "log-search", placeholder: "filter lines", "aria-label": "filter log lines" });
  const container = h("select", { "data-testid": "log-container", "aria-label": "container" },
    containers.map((c) => h("option", { value: c }, c)));
  const previous = h("input", { type: "checkbox", "data-testid": "log-previous" });
  const follow = h("input", { type: "checkbox", "data-testid": "log-follow", checked: true });
  const logs = h("pre", { "data-testid": "logs", class: "logs", tabindex: "0", "aria-label": "logs" });
  const logNote = h("span", { class: "muted log-note" });
  const gone = h("p", { class: "warning", hidden: true }, "✗ this pod is gone");
  const terminating = h("p", { class: "warning", hidden: true }, "⌛ terminating (deleted, its containers are stopping)");
  const commands = h("div");
  const del = h("button", { type: "button", class: "danger", "data-testid": "delete-pod" }, "🗑 delete pod");

  root.replaceChildren(
    h("div", { class: "panel-head" },
      h("h2", {}, "Pod ", h("span", { class: "mono" }, name), h("span", { class: "muted" }, ` · ${ns}`)),
      h("button", { type: "button", class: "close", "aria-label": "close", onclick: () => app.closePanel() }, "✕")),
    gone, terminating,
    h("dl", { class: "facts" }, h("dt", {}, "phase"), phase, h("dt", {}, "ready"), ready,
      h("dt", {}, "restarts"), restarts),
    h("h3", {}, "Probes"), probes,
    h("h3", {}, "Recent events"), events,
    h("h3", {}, "Logs ", logNote),
    h("div", { class: "log-controls" }, search, container,
      h("label", {}, follow, " follow"), h("label", {}, previous, " previous container")),
    logs,
    h("div", { class: "actions" }, del),
    commands);
  root.hidden = false;

  let lines = [];
  let abort = null;
  const matches = (line) => !search.value || line.toLowerCase().includes(search.value.toLowerCase());
  const showLogs = () => {
    logs.textContent = lines.filter(matches).join("\n");
    if (follow.checked) logs.scrollTop = logs.scrollHeight;
  };
  let pending = false;
  const addLine = (line) => {
    lines.push(line);
    if (lines.length > MAX_LINES) lines = lines.slice(-MAX_LINES);
    if (!pending) { // many lines at once: one repaint
      pending = true;
      requestAnimationFrame(() => { pending = false; showLogs(); });
    }
  };
  const startLogs = () => {
    if (abort) abort.abort();
    abort = new AbortController();
    const mine = abort;
    lines = [];
    showLogs();
    logNote.textContent = previous.checked ? "(previous container)" : follow.checked ? "(following)" : "";
    const path = logPath(ns, name, { container: container.value, previous: previous.checked, follow: follow.checked });
    streamLines(path, addLine, mine.signal).then(() => {
      if (!mine.signal.aborted && follow.checked && !previous.checked) logNote.textContent = "(stream ended)";
    }).catch((err) => {
      if (!mine.signal.aborted) logNote.textContent = `(✗ ${err.message})`;
    });
  };
  search.addEventListener("input", showLogs);
  container.addEventListener("change", () => { refreshCommands(); startLogs(); });
  previous.addEventListener("change", startLogs);
  follow.addEventListener("change", startLogs);
  del.addEventListener("click", async () => {
    if (!window.confirm(`Delete pod ${ns}/${name}?`)) return;
    try {
      await deletePod(ns, name);
      app.notify(`✓ deleting pod ${name}`);
    } catch (err) {
      app.notify(`✗ delete failed: ${err.message}`, true);
    }
  });
  const refreshCommands = () => commands.replaceChildren(commandList(podCommands(app.state.info, ns, name, container.value)));
  refreshCommands();

  const refresh = () => {
    const p = pod();
    gone.hidden = Boolean(p);
    if (!p) return;
    phase.textContent = podPhase(p);
    terminating.hidden = !p.metadata.deletionTimestamp;
    const r = condition(p, "Ready");
    ready.textContent = `${podReady(p) ? "✓ ready" : "✗ not ready"}${r && r.lastTransitionTime ? ` since ${clock(Date.parse(r.lastTransitionTime))}` : ""}${r && r.reason ? ` (${r.reason})` : ""}`;
    restarts.textContent = String(podRestarts(p));
    const evs = [...app.state.events.values()];
    const results = probeResults(p, evs);
    probes.replaceChildren(...(results.length ? results.map((res) => h("div", { class: `probe ${res.ok ? "ok" : "bad"}` },
      h("strong", {}, `${res.probe} (${res.container}): `), res.text,
      res.output ? h("pre", { class: "output" }, `${clock(res.time)} ${res.output}`) : null))
      : [h("p", { class: "muted" }, "no probes defined: ready when its containers run")]),
    h("div", { class: "muted small" }, ((p.status || {}).conditions || []).map((c) =>
      `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ""}`).join(" · ")));
    const recent = podEvents(p, evs).slice(0, 15);
    events.replaceChildren(...(recent.length ? recent.map((ev) => h("li", { class: ev.type === "Warning" ? "warning" : "" },
      h("span", { class: "time" }, clock(eventTime(ev))), " ", ev.type === "Warning" ? "⚠ " : "", h("strong", {}, ev.reason), " ",
      ev.message || "", ev.count > 1 ? h("span", { class: "muted" }, ` ×${ev.count}`) : null))
      : [h("li", { class: "muted" }, "no events")]));
  };
  refresh();
  startLogs();
  return {
    key: `pod:${ns}/${name}`,
    refresh,
    close() {
      if (abort) abort.abort();
      root.hidden = true;
      root.replaceChildren();
    },
  };
}
