"""The smaller commands: scale, url, dns, version, completion, images, and the in-container ones."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from localsvc.host.commands.common import UsageError, environment, error, say

SHELLS = ("bash", "zsh", "fish")


def cmd_scale(args: argparse.Namespace) -> int:
    from localsvc.host.commands.resources import scalable_kind
    from localsvc.host.output import resource_name

    text, _, name = args.target.partition("/")
    kind = scalable_kind(text) if text and name else None
    if kind is None:
        raise UsageError("scale takes deployment/NAME or statefulset/NAME, e.g. localsvc scale "
                         "deployment/web --replicas 3")
    env = environment(args)
    env.scale(name, args.replicas, args.namespace, kind)
    print(f"{resource_name(kind, name)} scaled")
    return 0


def cmd_url(args: argparse.Namespace) -> int:
    env = environment(args)
    from localsvc.host.commands.resources import resolve_kind

    text, _, name = args.target.rpartition("/")
    kind = resolve_kind(text) if text else "Service"
    if kind == "Ingress":
        return _ingress_url(env, name, args.namespace)
    if kind != "Service":
        raise UsageError("url takes svc/NAME or ingress/NAME, e.g. localsvc url svc/web 80")
    svc = env.get("svc", name, args.namespace)[0]
    stype = svc["spec"].get("type", "ClusterIP")
    if stype not in ("NodePort", "LoadBalancer"):
        error(f"service {name} is of type {stype}: nothing on the host reaches it. Use "
              f"`localsvc port-forward svc/{name} PORT`, or make it a NodePort/LoadBalancer")
        return 1
    print(env.service_url(name, args.port, args.namespace, args.scheme))
    return 0


def _ingress_url(env: Any, name: str, namespace: str) -> int:
    from localsvc.host import ingressurl

    urls = ingressurl.ingress_url_lines(env, name, namespace)
    print("\n".join(urls))
    for line in ingressurl.resolve_hints(urls):
        say(line)
    note = ingressurl.fallback_note(ingressurl.controller_summary(env))
    if note:
        say(note)
    return 0


def cmd_dns(args: argparse.Namespace) -> int:
    env = environment(args)
    reply = env.dns(args.name, args.type)
    print(f";; status: {reply['rcode']}")
    for section in ("answer", "authority", "additional"):
        if reply[section]:
            print(f";; {section.upper()} SECTION:")
            print("\n".join(reply[section]))
    return 0 if reply["rcode"] in ("NOERROR", "NXDOMAIN") else 1


def version_text() -> str:
    from localsvc import __version__

    return f"localsvc {__version__}"


def cmd_version(args: argparse.Namespace) -> int:
    print(version_text())
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["localsvc"], shell=args.shell), end="")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from localsvc.runtime import images
    from localsvc.runtime.engine import connect

    client = connect()
    if args.what == "base":
        print(images.ensure_base_image(client, say))
    elif args.what == "node":
        print(images.ensure_node_image(client, say))
    else:
        if not args.context or not args.tag:
            raise UsageError("images build needs a context directory and --tag, e.g. "
                             "localsvc images build examples/images/demo --tag demo:1")
        print(images.ensure_context_image(client, Path(args.context), args.tag, say))
    return 0


def cmd_node() -> int:
    from localsvc.node.boot import main

    return main()


def cmd_svclb() -> int:
    import asyncio
    import logging

    from localsvc.net.forwarder import SPEC_VARIABLE
    from localsvc.net.svclbrun import run_svclb

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_svclb(os.environ[SPEC_VARIABLE]))
    return 0


def cmd_reap(name: str) -> int:
    """The reaper container of an environment whose owner died. Only environments whose owner
    asked for their removal hold a lease (the pytest plugin, `Environment(reap=True)`): they
    are throw-away, so their claims' data goes too (a foreground `up` holds none)."""
    from localsvc.runtime import environment as envrt
    from localsvc.runtime.engine import connect

    envrt.destroy(connect(), name, volumes=True)
    return 0
