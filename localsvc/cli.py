"""The `localsvc` command: arguments -> Environment calls; errors -> messages and exit codes.

Exit codes: 0 success, 1 failure, 2 usage error. Diagnostics go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localsvc import __version__
from localsvc.errors import LocalsvcError

EPILOG = """examples:
  localsvc up -f examples/backend-service -d     start the example, wait until it is Ready
  localsvc get pods -o wide                      pods with their IPs
  localsvc logs client -f                        follow a pod's log
  localsvc exec client -- python3 -c 'print(1)'  run a command in a pod
  localsvc down                                  remove everything the environment created

The environment defaults to the current directory's name (override: --env or LOCALSVC_ENV)."""


def _stderr(message: str) -> None:
    colour = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    sys.stderr.write((f"\033[2m{message}\033[0m" if colour else message) + "\n")
    sys.stderr.flush()


def _error(message: str) -> None:
    colour = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    sys.stderr.write(("\033[31merror:\033[0m " if colour else "error: ") + message + "\n")


def _env(args: argparse.Namespace) -> Any:
    from localsvc.api import Environment

    return Environment(
        args.env,
        subnet=getattr(args, "subnet", None),
        cluster_domain=getattr(args, "cluster_domain", None) or "cluster.local",
        node_image=os.environ.get("LOCALSVC_NODE_IMAGE") or None,
        proxy_mode=getattr(args, "proxy_mode", "auto"),
        host_address=getattr(args, "host_address", None) or "127.0.0.1",
        node_port_range=getattr(args, "node_port_range", "30000-32767"),
        host_dns_port=getattr(args, "host_dns", None),
        progress=_stderr,
    )


def _print_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        kind = r["kind"].lower()
        where = f" -n {r['namespace']}" if r["namespace"] not in ("", "default") else ""
        print(f"{kind}/{r['name']}{where} {r['action']}")


def _print_report(report: Any) -> None:
    for line in report.skipped:
        _stderr(line)
    for line in report.warnings:
        _stderr("warning: " + line)
    _print_results(report.results)


def _project(args: argparse.Namespace) -> Any:
    """localsvc.yaml of the current directory (or a parent), applied under the command line:
    flags and LOCALSVC_ENV win over the file."""
    from localsvc.model.project import find_project, load_project

    found = find_project(Path.cwd())
    if found is None:
        return None
    project = load_project(found)
    _stderr(f"using {found}")
    if not args.filename:
        args.filename = [str(p) for p in project.manifests]
    if args.env is None and not os.environ.get("LOCALSVC_ENV") and project.environment:
        args.env = project.environment
    if args.host_address is None and project.host_address:
        args.host_address = project.host_address
    if args.cluster_domain is None and project.cluster_domain:
        args.cluster_domain = project.cluster_domain
    return project


def cmd_up(args: argparse.Namespace) -> int:
    from localsvc.devloop.builds import ensure_project_image

    project = _project(args)
    if not args.filename:
        raise UsageError("up needs manifests: -f FILE_OR_DIR, or a localsvc.yaml listing them")
    env = _env(args)
    from localsvc.api import load_manifests

    load_manifests(args.filename)  # bad manifests fail before any build
    for image in project.images if project is not None else ():
        ensure_project_image(env.docker, image, _stderr)
    report = env.up(args.filename, wait=None, strict=args.strict)
    _print_report(report)
    if args.detach:
        env.wait_ready(args.wait)
        _stderr(f"environment {env.name} is up; `localsvc get pods` to look, `localsvc down` to remove")
        return 0
    from localsvc.devloop.foreground import DevLoop

    loop = DevLoop(env, [Path(p) for p in args.filename], project, _stderr,
                   watch=not args.no_watch)
    return loop.run(keep=args.keep)


def cmd_status(args: argparse.Namespace) -> int:
    from localsvc.devloop.status import status_table

    print(status_table(_env(args)))
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    env = _env(args)
    _print_report(env.apply(args.filename, wait=None, strict=args.strict))
    if args.wait:
        env.wait_ready(args.wait)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    env = _env(args)
    if args.filename:
        if args.targets:
            raise UsageError("give either -f FILES or KIND NAME..., not both")
        results = env.delete(args.filename)
    else:
        if len(args.targets) < 2:
            raise UsageError("delete needs -f FILE or KIND NAME [NAME...] (e.g. delete pod web-1)")
        kind, *names = args.targets
        if "/" in kind:
            kind, first = kind.split("/", 1)
            names = [first, *names]
        results = env.delete_objects(kind, names, args.namespace)
    _print_results(results)
    missing = [r for r in results if r["action"] == "not found"]
    return 1 if missing else 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.all:
        from localsvc.runtime import environment as envrt
        from localsvc.runtime.engine import connect

        client = connect()
        for info in envrt.list_envs(client):
            removed = envrt.destroy(client, info.name)
            print(f"environment {info.name} removed ({removed['containers']} containers)")
        return 0
    env = _env(args)
    removed = env.down()
    if not any(removed.values()):
        _stderr(f"environment {env.name} had nothing to remove")
    print(f"environment {env.name} removed: {removed['containers']} containers, "
          f"{removed['networks']} networks, {removed['volumes']} volumes")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Environments whose node is gone or stopped are left-overs: remove them."""
    from localsvc.runtime import environment as envrt
    from localsvc.runtime.engine import connect

    client = connect()
    pruned = 0
    for info in envrt.list_envs(client):
        if info.node_status not in ("running", "restarting"):
            removed = envrt.destroy(client, info.name)
            print(f"environment {info.name} (node {info.node_status}) removed: "
                  f"{removed['containers']} containers, {removed['networks']} networks, "
                  f"{removed['volumes']} volumes")
            pruned += 1
    if not pruned:
        _stderr("no orphaned environments")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from localsvc.output import render, render_one

    env = _env(args)
    namespace = None if args.all_namespaces else args.namespace
    items = env.get(args.kind, args.name, namespace)
    kind = env._kind(args.kind)
    if args.name and args.output in ("json", "yaml"):
        print(render_one(items[0], args.output))
        return 0
    if not items:
        where = "" if args.all_namespaces else f" in {args.namespace} namespace"
        _stderr(f"No resources found{where}.")
        return 0
    print(render(kind, items, args.output, bool(args.all_namespaces)))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    env = _env(args)
    for chunk in env.logs(args.pod, args.container, args.namespace, follow=args.follow,
                          previous=args.previous, tail=args.tail):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("exec needs a command after --, e.g. localsvc exec POD -- sh")
    env = _env(args)
    return int(env.exec(args.pod, command, args.container, args.namespace,
                        interactive=args.stdin, tty=args.tty))


def cmd_scale(args: argparse.Namespace) -> int:
    kind, _, name = args.target.partition("/")
    if not name or kind not in ("deployment", "deployments", "deploy"):
        raise UsageError("scale takes deployment/NAME, e.g. localsvc scale deployment/web --replicas 3")
    env = _env(args)
    env.scale(name, args.replicas, args.namespace)
    print(f"deployment/{name} scaled")
    return 0


def cmd_port_forward(args: argparse.Namespace) -> int:
    from localsvc.portforward import parse_port_spec, run_port_forward

    env = _env(args)
    local, remote = parse_port_spec(args.port)
    target = env.forward_target(args.target, str(remote), args.namespace)
    info = env.info()

    def ready(port: int) -> None:
        print(f"Forwarding from 127.0.0.1:{port} -> {target.description}:{target.port}", flush=True)

    run_port_forward(str(info.api_url), info.token, target, local, ready)
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    env = _env(args)
    kind, _, name = args.target.rpartition("/")
    if kind not in ("", "svc", "service"):
        raise UsageError("url takes svc/NAME, e.g. localsvc url svc/web 80")
    svc = env.get("svc", name, args.namespace)[0]
    stype = svc["spec"].get("type", "ClusterIP")
    if stype not in ("NodePort", "LoadBalancer"):
        _error(f"service {name} is of type {stype}: nothing on the host reaches it. Use "
               f"`localsvc port-forward svc/{name} PORT`, or make it a NodePort/LoadBalancer")
        return 1
    print(env.service_url(name, args.port, args.namespace, args.scheme))
    return 0


def cmd_dns(args: argparse.Namespace) -> int:
    env = _env(args)
    reply = env.dns(args.name, args.type)
    print(f";; status: {reply['rcode']}")
    for section in ("answer", "authority", "additional"):
        if reply[section]:
            print(f";; {section.upper()} SECTION:")
            print("\n".join(reply[section]))
    return 0 if reply["rcode"] in ("NOERROR", "NXDOMAIN") else 1


def cmd_ls(args: argparse.Namespace) -> int:
    from localsvc.output import table
    from localsvc.runtime import environment as envrt
    from localsvc.runtime.engine import connect

    infos = envrt.list_envs(connect())
    if not infos:
        _stderr("no environments")
        return 0
    rows = [["NAME", "NODE", "SUBNET", "API", "HOST DNS", "CREATED"]]
    rows += [[i.name, i.node_status, i.subnet or "-", i.api_url or "-", i.host_dns or "-",
              i.created or "-"] for i in infos]
    print(table(rows))
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    print(f"localsvc {__version__}")
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    from localsvc.node.main import run_node

    return run_node()


def cmd_images(args: argparse.Namespace) -> int:
    from localsvc.runtime import images
    from localsvc.runtime.engine import connect

    client = connect()
    if args.what == "base":
        print(images.ensure_base_image(client, _stderr))
    elif args.what == "node":
        print(images.ensure_node_image(client, _stderr))
    else:
        if not args.context or not args.tag:
            raise UsageError("images build needs a context directory and --tag, e.g. "
                             "localsvc images build examples/images/demo --tag demo:1")
        print(images.ensure_context_image(client, Path(args.context), args.tag, _stderr))
    return 0


def cmd_svclb() -> int:
    import asyncio
    import logging

    from localsvc.net.forwarder import run_forwarder

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_forwarder(os.environ["LOCALSVC_SVCLB_SPEC"]))
    return 0


class UsageError(LocalsvcError):
    """Wrong use of the command line (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", "-e", default=argparse.SUPPRESS,
                        help="environment name (default: $LOCALSVC_ENV or the current directory's name)")
    ns = argparse.ArgumentParser(add_help=False)
    ns.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")

    parser = argparse.ArgumentParser(
        prog="localsvc",
        description="Run Kubernetes manifests on one Docker engine, with Services, DNS and "
        "ClusterIPs wired as in a cluster. No cluster needed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", "-e", default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common, *parents])

    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("-f", "--filename", action="append", default=[], metavar="PATH",
                       help="manifest file or directory (recursive; .yaml, .yml, .json); repeatable")
    strict = argparse.ArgumentParser(add_help=False)
    strict.add_argument("--strict", action="store_true",
                        help="also list the fields localsvc accepts but does not act on "
                        "(scheduling, security contexts, lifecycle hooks, ...)")

    p = add("up", "make the environment run exactly these manifests (creating it if needed); "
            "without -d, stream logs and watch files until Ctrl-C. Reads localsvc.yaml (manifests, "
            "environment, images to build) when present", files, strict)
    p.add_argument("-d", "--detach", action="store_true",
                   help="return once every pod is Running and Ready instead of streaming logs")
    p.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                   help="with -d: how long to wait for readiness (default 120)")
    p.add_argument("--keep", action="store_true", help="foreground: leave the environment running on Ctrl-C")
    p.add_argument("--no-watch", action="store_true",
                   help="foreground: do not re-apply manifests or rebuild images when files change")
    p.add_argument("--subnet", help="the environment network's subnet, e.g. 10.210.0.0/16 (default: a free one)")
    p.add_argument("--cluster-domain", default=None, help="DNS cluster domain (default cluster.local)")
    p.add_argument("--host-address", default=None, metavar="IP",
                   help="host address NodePorts and LoadBalancers are published on (default "
                   "127.0.0.1: never exposed to the LAN; 0.0.0.0 for every interface)")
    p.add_argument("--node-port-range", default="30000-32767", metavar="LOW-HIGH",
                   help="NodePort range (default 30000-32767)")
    p.add_argument("--host-dns", nargs="?", type=int, const=0, default=None, metavar="PORT",
                   help="also publish the cluster DNS on 127.0.0.1:PORT (any free port when no "
                   "PORT), for `dig @127.0.0.1 -p PORT name.ns.svc.cluster.local`")
    p.add_argument("--proxy-mode", choices=["auto", "nftables", "userspace"], default="auto",
                   help="Service dataplane when the environment is created: kernel NAT programmed "
                   "with nftables (fast; the default when available) or an asyncio proxy")
    p.set_defaults(func=cmd_up)

    p = add("apply", "create or update objects from manifests; other objects are left alone",
            files, strict)
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="wait up to SECONDS for every pod to be Ready")
    p.set_defaults(func=cmd_apply)

    p = add("delete", "delete the objects of manifests (-f) or by KIND NAME", files, ns)
    p.add_argument("targets", nargs="*", metavar="KIND NAME", help="e.g. pod web-1, deployment/web")
    p.set_defaults(func=cmd_delete)

    p = add("down", "remove every container, network and volume of the environment")
    p.add_argument("--all", action="store_true", help="remove every localsvc environment on this engine")
    p.set_defaults(func=cmd_down)

    add("status", "services with their ClusterIPs, host URLs and ready endpoints").set_defaults(
        func=cmd_status)
    add("prune", "remove environments whose node is gone or stopped (left-overs of crashes)"
        ).set_defaults(func=cmd_prune)

    p = add("get", "list objects, kubectl-style", ns)
    p.add_argument("kind", help="pods|po, deployments|deploy, services|svc, endpoints|ep, "
                   "endpointslices, namespaces|ns, configmaps|cm, secrets")
    p.add_argument("name", nargs="?", help="one object's name")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="objects of every namespace")
    p.add_argument("-o", "--output", choices=["wide", "json", "yaml", "name"], help="output format")
    p.set_defaults(func=cmd_get)

    p = add("logs", "print a pod container's log", ns)
    p.add_argument("pod")
    p.add_argument("-c", "--container", help="container name (default: the first)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    p.add_argument("-p", "--previous", action="store_true", help="the previous (restarted) container's log")
    p.add_argument("--tail", type=int, help="only the last N lines")
    p.set_defaults(func=cmd_logs)

    p = add("exec", "run a command in a pod's container: exec POD [-c C] -- CMD ...", ns)
    p.add_argument("pod")
    p.add_argument("-c", "--container", help="container name (default: the first)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    p.set_defaults(func=cmd_exec)

    p = add("scale", "set a Deployment's replica count", ns)
    p.add_argument("target", metavar="deployment/NAME")
    p.add_argument("--replicas", type=int, required=True)
    p.set_defaults(func=cmd_scale)

    p = add("port-forward", "forward a local port to a Service or pod, through the node "
            "(works where the host cannot reach container IPs)", ns)
    p.add_argument("target", metavar="svc/NAME|pod/NAME")
    p.add_argument("port", metavar="[LOCAL:]PORT", help="e.g. 8080:80, 80, :80 (any free local port)")
    p.set_defaults(func=cmd_port_forward)

    p = add("url", "print the host URL that reaches a NodePort or LoadBalancer Service", ns)
    p.add_argument("target", metavar="svc/NAME")
    p.add_argument("port", nargs="?", help="service port number or name (default: the first)")
    p.add_argument("--scheme", default="http")
    p.set_defaults(func=cmd_url)

    p = add("dns", "ask the environment's cluster DNS, as a pod would (e.g. dns web.default.svc."
            "cluster.local SRV)")
    p.add_argument("name")
    p.add_argument("type", nargs="?", default="A", help="A, AAAA, SRV, PTR, TXT, CNAME, SOA, ANY")
    p.set_defaults(func=cmd_dns)

    add("ls", "list the environments on this Docker engine").set_defaults(func=cmd_ls)
    add("version", "print localsvc's version").set_defaults(func=cmd_version)
    p = add("images", "build images without a registry: `node` (localsvc's own), `base` (Debian "
            "with Python 3.11, pulled or built with debootstrap), or `build DIR --tag T` (a "
            "Dockerfile whose `ARG BASE` gets that base; skipped when DIR is unchanged)")
    p.add_argument("what", choices=["node", "base", "build"])
    p.add_argument("context", nargs="?", help="with build: the build context directory")
    p.add_argument("--tag", "-t", help="with build: the image tag")
    p.set_defaults(func=cmd_images)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["node"]:
        # Inside the node container only; not listed in --help.
        return cmd_node(argparse.Namespace())
    if argv[:1] == ["reap"] and len(argv) == 2:
        # The reaper container of an environment whose owner died.
        from localsvc.runtime import environment as envrt
        from localsvc.runtime.engine import connect

        envrt.destroy(connect(), argv[1])
        return 0
    if argv[:1] == ["svclb"]:
        # Inside a NodePort/LoadBalancer forwarder container only.
        return cmd_svclb()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as err:
        _error(str(err))
        return 2
    except LocalsvcError as err:  # ManifestError included: its message lists every problem
        _error(str(err))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
