"""`localsvc exec` and `localsvc port-forward`: commands that reach into one pod or Service."""

from __future__ import annotations

import argparse

from localsvc.host.commands.common import UsageError, environment
from localsvc.host.commands.podtargets import resolve_pod, split_target


def cmd_exec(args: argparse.Namespace) -> int:
    if not args.pod:
        raise UsageError("exec needs a pod and a command: localsvc exec POD [-c C] -- CMD ...")
    if args.stray:
        raise UsageError(f"exec: put the command after --: localsvc exec {args.pod} -- "
                         + " ".join(args.stray))
    if not args.exec_command:
        raise UsageError(f"exec needs a command after --, e.g. localsvc exec {args.pod} -- sh")
    env = environment(args)
    pod = resolve_pod(env, args.pod, args.namespace)
    return int(env.exec(pod, args.exec_command, args.container, args.namespace,
                        interactive=args.stdin, tty=args.tty))


def local_addresses(text: str) -> list[str]:
    """--address: comma-separated IPs; `localhost` is 127.0.0.1 (IPv4 only)."""
    out: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            raise UsageError(f"--address {text!r}: an empty address; give IPs separated by commas")
        address = "127.0.0.1" if word == "localhost" else word
        if address not in out:
            out.append(address)
    return out


def cmd_port_forward(args: argparse.Namespace) -> int:
    from localsvc.host.portforward import ForwardTarget, parse_port_spec, run_port_forwards

    if not args.ports:
        raise UsageError("port-forward needs at least one port: [LOCAL:]REMOTE, e.g. 8080:80")
    addresses = local_addresses(args.address)
    specs = [parse_port_spec(p) for p in args.ports]
    env = environment(args)
    kind, name = split_target(args.target)
    target = f"svc/{name}" if kind == "Service" else \
        f"pod/{resolve_pod(env, args.target, args.namespace)}"
    forwards = [(env.forward_target(target, str(remote), args.namespace), local)
                for local, remote in specs]
    node = env.node()  # located while resolving the targets: no second Docker lookup

    def ready(address: str, port: int, to: ForwardTarget) -> None:
        print(f"Forwarding from {address}:{port} -> {to.description}:{to.port}", flush=True)

    run_port_forwards(node.address, forwards, addresses, ready)
    return 0
