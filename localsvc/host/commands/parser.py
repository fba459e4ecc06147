"""The argparse definition of every command: what --help says is what the commands do."""

from __future__ import annotations

import argparse

from localsvc.host.commands import get, logs, misc, podcmds, project, ui
from localsvc.host.commands.resources import ALL_KINDS, known_kinds
from localsvc.model.kubeapi.resources import RESOURCES

EPILOG = """examples:
  localsvc up -f examples/backend-service -d     start the example, wait until it is Ready
  localsvc get pods -o wide                      pods with their IPs
  localsvc get all -l app=web                    pods, services and deployments labelled app=web
  localsvc logs client -f                        follow a pod's log (across restarts)
  localsvc logs -f                               every pod's log, new pods included
  localsvc ui                                    the dashboard in the browser (one-time login link)
  localsvc exec client -- python3 -c 'print(1)'  run a command in a pod
  cat app.yaml | localsvc apply -f -             manifests from standard input
  localsvc down                                  remove the environment (keeps claims' data)
  localsvc down -v                               ... and the volumes of its claims' data

Every command targets one environment: --env/-e NAME, else $LOCALSVC_ENV, else the
`environment:` of the localsvc.yaml found from here up to the repository root (.git) or $HOME
(else a name made from that file's directory), else a name made from the current directory
(<dirname>-<6 hex digits of its path>)."""

KINDS_HELP = (f"{known_kinds('|{}')}; several joined by commas; all ("
              + ", ".join(r.plural for r in RESOURCES if r.kind in ALL_KINDS) + ")")


def _parents() -> dict[str, argparse.ArgumentParser]:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", "-e", default=argparse.SUPPRESS, metavar="NAME",
                        help="environment name (default: $LOCALSVC_ENV, then localsvc.yaml's "
                        "environment, then a name made from the directory; see localsvc --help)")
    ns = argparse.ArgumentParser(add_help=False)
    ns.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("-f", "--filename", action="append", default=[], metavar="PATH",
                       help="manifest file or directory (recursive; .yaml, .yml, .json), or - "
                       "for standard input; repeatable")
    strict = argparse.ArgumentParser(add_help=False)
    strict.add_argument("--strict", action="store_true",
                        help="also list the fields localsvc accepts but does not act on "
                        "(scheduling, security contexts, lifecycle hooks, ...)")
    selector = argparse.ArgumentParser(add_help=False)
    selector.add_argument("-l", "--selector", metavar="SELECTOR",
                          help="label selector: a=b, a!=b, a in (x,y), a notin (x), a, !a; "
                          "joined by commas, all must match")
    return {"common": common, "ns": ns, "files": files, "strict": strict, "selector": selector}


def build_parser() -> argparse.ArgumentParser:
    p_ = _parents()
    parser = argparse.ArgumentParser(
        prog="localsvc",
        description="Run Kubernetes manifests on one Docker engine, with Services, DNS and "
        "ClusterIPs wired as in a cluster. No cluster needed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", "-e", default=None, metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=misc.version_text(),
                        help="print localsvc's version and exit")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")

    def add(name: str, help_: str, *parents: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_,
                              parents=[p_["common"], *(p_[p] for p in parents)])

    p = add("up", "make the environment run exactly these manifests (creating it if needed); "
            "without -d, stream logs and watch files until Ctrl-C. Reads localsvc.yaml (manifests, "
            "environment, images to build) when present", "files", "strict")
    p.add_argument("-d", "--detach", action="store_true",
                   help="return once every pod is Running and Ready and every Job complete "
                        "(failing when a Job fails) instead of streaming logs")
    p.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                   help="with -d: how long to wait for readiness (default 120)")
    p.add_argument("--keep", action="store_true", help="foreground: leave the environment running on Ctrl-C")
    p.add_argument("--no-watch", action="store_true",
                   help="foreground: do not re-apply manifests or rebuild images when files change")
    p.add_argument("--no-ui", action="store_true",
                   help="foreground: do not serve the dashboard (default: served on 127.0.0.1, "
                   "its one-time login link printed; $LOCALSVC_UI_PORT chooses the port); with "
                   "-d: no `localsvc ui` hint")
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
    p.add_argument("--ingress-http-port", type=int, default=None, metavar="PORT",
                   help="host port of the ingress controller's HTTP when the environment is "
                   "created (default $LOCALSVC_INGRESS_HTTP_PORT, else 80; 0: any free port); a "
                   "port that cannot be bound falls back to a free one, and up says so")
    p.add_argument("--ingress-https-port", type=int, default=None, metavar="PORT",
                   help="the same for HTTPS (default $LOCALSVC_INGRESS_HTTPS_PORT, else 443)")
    p.set_defaults(func=project.cmd_up)

    p = add("apply", "create or update objects from manifests; other objects are left alone",
            "files", "strict")
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="wait up to SECONDS for every pod to be Ready")
    p.set_defaults(func=project.cmd_apply)

    p = add("delete", "delete objects: those of manifests (-f), KIND NAME..., KIND/NAME..., "
            "KIND -l SELECTOR, or KIND --all", "files", "ns", "selector")
    p.add_argument("resources", nargs="*", metavar="KIND NAME",
                   help="e.g. pod web-1, deployment/web, pods -l app=web, pods --all")
    p.add_argument("--all", action="store_true", help="every object of the given kinds")
    p.add_argument("-A", "--all-namespaces", action="store_true",
                   help="with -l or --all: in every namespace")
    p.set_defaults(func=get.cmd_delete)

    p = add("down", "remove every container, network and volume of the environment, but the "
            "volumes of its PersistentVolumeClaims (as docker compose down)")
    p.add_argument("--all", action="store_true", help="remove every localsvc environment on this engine")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="remove the volumes of PersistentVolumeClaims too (their data)")
    p.set_defaults(func=project.cmd_down)

    add("status", "services with their ClusterIPs, host URLs and ready endpoints").set_defaults(
        func=project.cmd_status)
    p = add("prune", "remove environments whose node has been gone or stopped for a minute "
            "(left-overs of crashes; one being created is left alone)")
    p.add_argument("--min-age", type=float, metavar="SECONDS",
                   help="how long a node must have been gone (default 60)")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="only these environments (default: every environment on the engine)")
    p.set_defaults(func=project.cmd_prune)

    p = add("get", "list objects, kubectl-style: get KIND[,KIND...] [NAME...] | get KIND/NAME... "
            "| get all", "ns", "selector")
    p.add_argument("resources", nargs="*", metavar="KIND [NAME...]", help=KINDS_HELP)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="objects of every namespace")
    p.add_argument("-o", "--output", choices=["wide", "json", "yaml", "name"],
                   help="output format; name prints KIND/NAME (deployment.apps/web)")
    p.add_argument("--no-headers", action="store_true", help="tables without their header row")
    p.add_argument("--show-labels", action="store_true", help="tables with a LABELS column")
    p.set_defaults(func=get.cmd_get)

    p = add("logs", "print container logs: of a pod (POD, pod/NAME, or the pod a deploy/NAME or "
            "svc/NAME picks), of every pod -l selects (lines prefixed [pod/NAME/CONTAINER]), or, "
            "with neither, of every container of every pod of the environment (prefixed, like "
            "docker compose logs; on a terminal this form follows, like docker compose logs -f, "
            "while in a pipe or CI it prints and exits); -f follows containers across restarts, "
            "and with -l or no pod also pods that appear later", "ns", "selector")
    p.add_argument("target", nargs="?", metavar="POD|KIND/NAME")
    p.add_argument("-c", "--container", help="container name (default: the pod's first)")
    p.add_argument("--all-containers", action="store_true",
                   help="every container of the pod, init containers first (lines prefixed)")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="with -l: every namespace")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines until Ctrl-C")
    p.add_argument("-p", "--previous", action="store_true", help="the previous (restarted) container's log")
    p.add_argument("--tail", type=int, metavar="N",
                   help="only the last N lines of each container (default: all; 10 with -l, "
                   "as kubectl; -1 for all)")
    p.add_argument("--since", metavar="DURATION", help="only lines newer than this, e.g. 30s, 5m, 1h")
    p.add_argument("--since-time", metavar="RFC3339",
                   help="only lines after this time, e.g. 2026-12-07T03:00:00Z")
    p.add_argument("--timestamps", action="store_true", help="start each line with its RFC 3339 time")
    p.set_defaults(func=logs.cmd_logs)

    p = add("exec", "run a command in a pod's container: exec POD|deploy/NAME|svc/NAME [-c C] "
            "[-i] [-t] -- CMD ...; flags may stand before or after the pod; the exit code is "
            "passed through", "ns")
    p.add_argument("pod", nargs="?", metavar="POD|KIND/NAME")
    p.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("-c", "--container", help="container name (default: the first)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a terminal")
    p.set_defaults(func=podcmds.cmd_exec, exec_command=[])

    p = add("scale", "set a Deployment's or StatefulSet's replica count", "ns")
    p.add_argument("target", metavar="deployment/NAME|statefulset/NAME")
    p.add_argument("--replicas", type=int, required=True)
    p.set_defaults(func=misc.cmd_scale)

    p = add("port-forward", "forward local ports to a Service, a pod, or the pod a deploy/NAME "
            "picks, through the node (works where the host cannot reach container IPs); with "
            "several ports, all listen or none", "ns")
    p.add_argument("target", metavar="svc/NAME|pod/NAME|deploy/NAME")
    p.add_argument("ports", nargs="*", metavar="[LOCAL:]PORT",
                   help="e.g. 8080:80, 80, :80 (any free local port); several allowed")
    p.add_argument("--address", default="127.0.0.1", metavar="IP[,IP...]",
                   help="local addresses to listen on (default 127.0.0.1; localhost means "
                   "127.0.0.1)")
    p.set_defaults(func=podcmds.cmd_port_forward)

    p = add("url", "print the host URL that reaches a NodePort or LoadBalancer Service, or the "
            "URLs of an Ingress", "ns")
    p.add_argument("target", metavar="svc/NAME|ingress/NAME")
    p.add_argument("port", nargs="?", help="service port number or name (default: the first)")
    p.add_argument("--scheme", default="http")
    p.set_defaults(func=misc.cmd_url)

    p = add("dns", "ask the environment's cluster DNS, as a pod would (e.g. dns web.default.svc."
            "cluster.local SRV)")
    p.add_argument("name")
    p.add_argument("type", nargs="?", default="A", help="A, AAAA, SRV, PTR, TXT, CNAME, SOA, ANY")
    p.set_defaults(func=misc.cmd_dns)

    p = add("kubeconfig", "print a kubeconfig for kubectl and the Kubernetes clients (cluster, user "
            "and context named localsvc-ENV: the environment's CA and token), or merge it into "
            "your kubeconfig with --write; `down` removes it again")
    p.add_argument("--write", action="store_true",
                   help="merge the context into $KUBECONFIG's file (the first one kubectl would "
                   "write), else ~/.kube/config, and make it the current context")
    p.add_argument("--no-switch", action="store_true",
                   help="with --write: leave the current context as it is")
    p.set_defaults(func=project.cmd_kubeconfig)

    p = sub.add_parser("ui", help=ui.HELP, description=ui.DESCRIPTION, parents=[p_["common"]],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    ui.add_arguments(p)
    p.set_defaults(func=ui.cmd_ui)

    add("ls", "list the environments on this Docker engine").set_defaults(func=project.cmd_ls)
    add("version", "print localsvc's version").set_defaults(func=misc.cmd_version)
    p = add("completion", "print the shell completion script: "
            "source <(localsvc completion bash), or the zsh/fish equivalent")
    p.add_argument("shell", choices=misc.SHELLS)
    p.set_defaults(func=misc.cmd_completion)
    p = add("images", "build images without a registry: `node` (localsvc's own), `base` (Debian "
            "with Python 3.11, pulled or built with debootstrap), or `build DIR --tag T` (a "
            "Dockerfile whose `ARG BASE` gets that base; skipped when DIR is unchanged)")
    p.add_argument("what", choices=["node", "base", "build"])
    p.add_argument("context", nargs="?", help="with build: the build context directory")
    p.add_argument("--tag", "-t", help="with build: the image tag")
    p.set_defaults(func=misc.cmd_images)
    return parser
