// The page's only way to the environment: the Kubernetes API (list + watch, logs, patch,
// delete) through the dashboard server, plus the node's /v1/connections. Streams are fetch +
// ReadableStream of JSON lines; a closed fetch (AbortController) closes the upstream request.

const WRITE_HEADERS = { "X-Localsvc-Dashboard": "1" };

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.message) message = body.message;
  } catch { /* not a Status object: the status line says enough */ }
  return new HttpError(res.status, message);
}

export async function getJSON(path, signal) {
  const res = await fetch(path, { credentials: "same-origin", signal, headers: { Accept: "application/json" } });
  if (!res.ok) throw await failure(res);
  return res.json();
}

const DEFAULT_INFO = { env: "", namespace: "default", hostAddress: "127.0.0.1", context: "",
  devloop: false, version: "" };

// The server's /localsvc/info; defaults where it is missing (e.g. under `kubectl proxy`).
export async function info() {
  try {
    return { ...DEFAULT_INFO, ...(await getJSON("/localsvc/info")) };
  } catch {
    return { ...DEFAULT_INFO };
  }
}

// Calls onLine(text) for each line of a streaming response until it ends or `signal` aborts.
export async function streamLines(path, onLine, signal, onOpen) {
  const res = await fetch(path, { credentials: "same-origin", signal });
  if (!res.ok) throw await failure(res);
  if (onOpen) onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        onLine(line);
      }
    }
    if (buffer) onLine(buffer);
  } catch (err) {
    // A line the caller refused (a watch's ERROR event): close this response, or its
    // connection stays taken (a browser has 6 per host).
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    reader.releaseLock();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// List + watch of one resource across namespaces, as a client-go reflector does: resume from
// the last resourceVersion when a watch ends, relist on 410 Gone, retry with back-off.
// handlers: relist(items), event(type, object), state(connected: boolean).
export class Watcher {
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.rv = null;
    this.abort = new AbortController();
    this.listed = new Promise((resolve) => { this.resolveListed = resolve; });
  }

  start() {
    this.run();
    return this.listed;
  }

  stop() {
    this.abort.abort();
  }

  async relist() {
    const list = await getJSON(this.path, this.abort.signal);
    this.rv = list.metadata.resourceVersion;
    this.handlers.relist(list.items || []);
    this.resolveListed();
  }

  async watchOnce() {
    const sep = this.path.includes("?") ? "&" : "?";
    const url = `${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.rv)}`;
    await streamLines(url, (line) => {
      if (!line.trim()) return;
      const ev = JSON.parse(line);
      if (ev.type === "ERROR") {
        const status = ev.object || {};
        throw new HttpError(status.code || 500, status.message || "watch error");
      }
      const rv = ((ev.object || {}).metadata || {}).resourceVersion;
      if (rv) this.rv = rv;
      if (ev.type !== "BOOKMARK") this.handlers.event(ev.type, ev.object);
    }, this.abort.signal, () => this.handlers.state(true));
  }

  async run() {
    let delay = 250;
    while (!this.abort.signal.aborted) {
      try {
        if (this.rv === null) await this.relist();
        await this.watchOnce();
        delay = 250; // a watch the server ended on time: resume at once
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (err instanceof HttpError && (err.status === 410 || err.status === 404)) this.rv = null;
        this.handlers.state(false, err);
        await sleep(delay);
        delay = Math.min(delay * 2, 4000);
      }
    }
  }
}

export function logPath(ns, pod, { container, previous, follow, tailLines = 1000 }) {
  const q = new URLSearchParams({ tailLines: String(tailLines) });
  if (container) q.set("container", container);
  if (previous) q.set("previous", "true");
  if (follow && !previous) q.set("follow", "true");
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log?${q}`;
}

async function write(method, path, body, contentType) {
  const headers = { ...WRITE_HEADERS, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = contentType;
  const res = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export function deletePod(ns, name) {
  return write("DELETE", `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`);
}

const deploymentPath = (ns, name) =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments/${encodeURIComponent(name)}`;

export function scaleDeployment(ns, name, replicas) {
  return write("PATCH", `${deploymentPath(ns, name)}/scale`, { spec: { replicas } },
    "application/merge-patch+json");
}

// `kubectl rollout restart`: a new template annotation, so the Deployment rolls its pods.
export function restartDeployment(ns, name, now = new Date()) {
  const at = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return write("PATCH", deploymentPath(ns, name),
    { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } } } } },
    "application/strategic-merge-patch+json");
}
