// Small DOM helpers shared by the panels and the map.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context or no permission: the old way still copies.
    const area = h("textarea", {}, text);
    area.style.position = "fixed";
    area.style.left = "-9999px";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

// A copy-command button: shows what it copies (also as data-command, for tests and tooltips).
export function copyButton({ label, command }) {
  const button = h("button", { type: "button", class: "copy", "data-testid": "copy-command",
    "data-command": command, title: command },
    "copy ", label);
  button.addEventListener("click", async () => {
    const ok = await copyText(command);
    button.textContent = ok ? "✓ copied" : "✗ copy failed";
    setTimeout(() => { button.replaceChildren("copy ", label); }, 1500);
  });
  return button;
}

export function commandList(cmds) {
  return h("div", { class: "commands" }, cmds.map((c) =>
    h("div", { class: "command" }, copyButton(c), h("code", {}, c.command))));
}
