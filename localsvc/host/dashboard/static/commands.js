// The copy-command strings: what a developer would type for what the page shows. Pure.

const SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

export function shellQuote(word) {
  const text = String(word);
  if (text !== "" && SAFE.test(text)) return text;
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

function kubectl(context, ...words) {
  const ctx = context ? ["--context", context] : [];
  return ["kubectl", ...ctx, ...words].map(shellQuote).join(" ");
}

function localsvc(env, ...words) {
  const e = env ? ["--env", env] : [];
  return ["localsvc", ...words, ...e].map(shellQuote).join(" ");
}

export function serviceCommands(info, ns, name, hasHostUrl) {
  const cmds = [
    { label: "endpoints", command: kubectl(info.context, "get", "endpointslices", "-n", ns, "-l",
      `kubernetes.io/service-name=${name}`) },
    { label: "describe", command: kubectl(info.context, "describe", "service", name, "-n", ns) },
  ];
  if (hasHostUrl) {
    cmds.push({ label: "host URL", command: localsvc(info.env, "url", `svc/${name}`, "-n", ns) });
  }
  return cmds;
}

export function podCommands(info, ns, name, container) {
  const c = container ? ["-c", container] : [];
  return [
    { label: "logs", command: kubectl(info.context, "logs", "-n", ns, name, ...c, "-f") },
    { label: "describe", command: kubectl(info.context, "describe", "pod", name, "-n", ns) },
    { label: "delete", command: kubectl(info.context, "delete", "pod", name, "-n", ns) },
  ];
}

export function deploymentCommands(info, ns, name, replicas) {
  return [
    { label: "scale", command: kubectl(info.context, "scale", `deployment/${name}`, "-n", ns,
      `--replicas=${replicas}`) },
    { label: "restart", command: kubectl(info.context, "rollout", "restart",
      `deployment/${name}`, "-n", ns) },
    { label: "status", command: kubectl(info.context, "rollout", "status",
      `deployment/${name}`, "-n", ns) },
  ];
}
