// The dashboard page: list + watch of Services, EndpointSlices, pods and Events through the
// dashboard server, drawn as a map (scene.js + map.js) with panels beside it.
//
// Four watches only: a browser opens at most 6 HTTP/1.1 connections per host, and the open
// panel's stream (logs, or connection counts) plus the actions need the rest. Deployments are
// therefore re-read (one GET) when their pods change or after an action, not watched.

import { Watcher, getJSON, info } from "./api.js";
import { renderActivity } from "./activity.js";
import { deploymentList } from "./deployments.js";
import { newHistory, track } from "./history.js";
import { drawMap } from "./map.js";
import { key, serviceEndpoints } from "./objects.js";
import { openPodPanel } from "./podpanel.js";
import { buildScene } from "./scene.js";
import { openServicePanel } from "./servicepanel.js";

const $ = (sel) => document.querySelector(sel);

const state = {
  info: null,
  services: new Map(),
  slices: new Map(),
  pods: new Map(),
  events: new Map(),
  deployments: new Map(),
  history: newHistory(),
};

let panel = null;
let ready = false;
const connected = new Map();

const app = {
  state,
  closePanel() {
    if (panel) panel.close();
    panel = null;
    schedule();
  },
  notify(text, failed = false) {
    const el = $("#status");
    el.textContent = text;
    el.classList.toggle("failed", failed);
  },
  refreshDeployments: () => refreshDeployments(),
};

let frame = 0;
function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    render();
  });
}

let renderDeployments = null;
function render() {
  if (!ready) return;
  const scene = buildScene({ services: [...state.services.values()], slices: [...state.slices.values()],
    pods: [...state.pods.values()] }, state.info);
  drawMap($("#map"), scene, {
    selected: panel ? panel.key : null,
    onService: (ns, name) => openPanel(() => openServicePanel($("#service-panel"), app, ns, name)),
    onPod: (ns, name) => openPanel(() => openPodPanel($("#pod-panel"), app, ns, name)),
  });
  renderDeployments();
  renderActivity($("#activity"), $("#activity-empty"), [...state.events.values()]);
  if (panel) panel.refresh();
}

function openPanel(make) {
  if (panel) panel.close();
  panel = make();
  schedule();
}

// Endpoint history: after every change, per Service, what joined, left or changed readiness.
function trackAll() {
  const now = Date.now();
  const slices = [...state.slices.values()];
  for (const svc of state.services.values()) {
    track(state.history, key(svc), serviceEndpoints(svc, slices), state.pods, now);
  }
}

let depTimer = 0;
let depBusy = false;
async function refreshDeployments() {
  if (depBusy) { // one request at a time; ask again when it is back
    depTimer = depTimer || setTimeout(() => { depTimer = 0; refreshDeployments(); }, 200);
    return;
  }
  depBusy = true;
  try {
    const list = await getJSON("/apis/apps/v1/deployments");
    state.deployments = new Map((list.items || []).map((d) => [key(d), d]));
    schedule();
  } catch { /* the next pod change asks again */ } finally {
    depBusy = false;
  }
}
function deploymentsSoon() {
  clearTimeout(depTimer);
  depTimer = setTimeout(() => { depTimer = 0; refreshDeployments(); }, 150);
}

// data-connected="true" once the initial lists are in and every watch runs; the banner shows
// while one is down (also before the first list, when the environment does not answer).
function setConnected(name, value, failed = false) {
  if (name) connected.set(name, value);
  const all = ready && [...connected.values()].every(Boolean);
  document.body.dataset.connected = String(all);
  if (failed || ready) $("#banner").hidden = all;
  if (!all && ready) app.notify("reconnecting…", true);
  else if (all && $("#status").textContent.startsWith("reconnecting")) app.notify("live");
  if (all) refreshAfterReconnect();
}

let wasDown = false;
function refreshAfterReconnect() {
  if (wasDown) { wasDown = false; refreshDeployments(); }
}

function watch(name, path, map, onChange) {
  connected.set(name, false);
  return new Watcher(path, {
    relist(items) {
      map.clear();
      for (const o of items) map.set(key(o), o);
      if (ready) { onChange(); schedule(); }
    },
    event(type, obj) {
      if (type === "DELETED") map.delete(key(obj));
      else map.set(key(obj), obj);
      onChange(obj);
      schedule();
    },
    state(value, err) {
      if (!value) wasDown = true;
      // A signed-out browser (the server restarted, the session went): say what to do.
      $("#banner").textContent = err && err.status === 401
        ? "⚠ signed out: run `localsvc ui` for a new login link"
        : "⚠ reconnecting to the environment… (the page resumes the watches when it answers)";
      setConnected(name, value, !value);
    },
  });
}

async function main() {
  state.info = await info();
  $("#env-name").textContent = state.info.env ? `environment ${state.info.env}` : "";
  if (state.info.env) document.title = `localsvc · ${state.info.env}`;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && panel) app.closePanel();
  });
  const afterEndpoints = () => { if (ready) trackAll(); };
  const watchers = [
    watch("services", "/api/v1/services", state.services, afterEndpoints),
    watch("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", state.slices, afterEndpoints),
    watch("pods", "/api/v1/pods", state.pods, () => { afterEndpoints(); deploymentsSoon(); }),
    watch("events", "/api/v1/events", state.events, () => {}),
  ];
  renderDeployments = deploymentList($("#deployment-list"), app);
  await Promise.all([...watchers.map((w) => w.start()), refreshDeployments()]);
  ready = true;
  trackAll();
  app.notify("live");
  render();
  setConnected(null);
}

main().catch((err) => app.notify(`✗ ${err.message}`, true));

