// The Deployments list beside the map: ready/desired replicas, scale, rollout restart and copy
// commands. Rows are kept by key and updated in place, so a number being typed survives updates.

import { restartDeployment, scaleDeployment } from "./api.js";
import { deploymentCommands } from "./commands.js";
import { h, copyButton } from "./dom.js";
import { key } from "./objects.js";

export function deploymentList(root, app) {
  const rows = new Map();

  function makeRow(ns, name) {
    const status = h("span", { class: "dep-status" });
    const input = h("input", { type: "number", min: "0", step: "1", "data-testid": "scale-input",
      "aria-label": `replicas of ${name}` });
    const apply = h("button", { type: "button", "data-testid": "scale-apply" }, "scale");
    const restart = h("button", { type: "button", "data-testid": "restart" }, "↻ restart");
    const copyHolder = h("span");
    const el = h("div", { class: "deployment", "data-testid": "deployment", "data-namespace": ns, "data-name": name },
      h("div", {}, h("strong", { class: "mono" }, name), h("span", { class: "muted" }, ` · ${ns} `), status),
      h("div", { class: "dep-actions" }, input, apply, restart, copyHolder));
    let dirty = false;
    // Once touched (focus, typing, WebDriver's clear), updates leave the number alone until
    // it is applied.
    for (const type of ["focus", "input", "change"]) input.addEventListener(type, () => { dirty = true; });
    apply.addEventListener("click", async () => {
      const n = Number.parseInt(input.value, 10);
      if (!Number.isInteger(n) || n < 0) {
        app.notify("✗ replicas must be a whole number, 0 or more", true);
        return;
      }
      try {
        await scaleDeployment(ns, name, n);
        dirty = false;
        app.notify(`✓ scaled deployment/${name} to ${n}`);
        app.refreshDeployments();
      } catch (err) {
        app.notify(`✗ scale failed: ${err.message}`, true);
      }
    });
    restart.addEventListener("click", async () => {
      try {
        await restartDeployment(ns, name);
        app.notify(`✓ restarting deployment/${name}`);
        app.refreshDeployments();
      } catch (err) {
        app.notify(`✗ restart failed: ${err.message}`, true);
      }
    });
    return {
      el,
      update(dep) {
        const spec = dep.spec || {};
        const st = dep.status || {};
        const want = spec.replicas ?? 1;
        const readyN = st.readyReplicas || 0;
        status.textContent = `${readyN === want ? "✓" : "…"} ${readyN}/${want} ready`
          + (st.updatedReplicas !== undefined && st.updatedReplicas !== want ? ` · ${st.updatedReplicas} updated` : "");
        if (!dirty && document.activeElement !== input) input.value = String(want);
        copyHolder.replaceChildren(copyButton(deploymentCommands(app.state.info, ns, name,
          input.value || want)[0]));
      },
    };
  }

  return function render() {
    const first = app.state.info.namespace; // the default namespace's first, as on the map
    const order = (d) => `${d.metadata.namespace === first ? "0" : "1"}${key(d)}`;
    const deps = [...app.state.deployments.values()].sort((a, b) => order(a).localeCompare(order(b)));
    const wanted = new Set(deps.map(key));
    for (const k of [...rows.keys()]) {
      if (!wanted.has(k)) { rows.get(k).el.remove(); rows.delete(k); }
    }
    const nodes = deps.map((dep) => {
      const k = key(dep);
      if (!rows.has(k)) rows.set(k, makeRow(dep.metadata.namespace, dep.metadata.name));
      const row = rows.get(k);
      row.update(dep);
      return row.el;
    });
    if (nodes.length) root.replaceChildren(...nodes);
    else root.replaceChildren(h("p", { class: "muted" }, "none"));
  };
}
