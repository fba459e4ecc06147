"""Project commands, docker compose-style: up, apply, down, status, prune, ls."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from localsvc.host.commands.common import (
    UsageError,
    environment,
    error,
    find_project,
    print_report,
    say,
)


def _project_for_up(args: argparse.Namespace) -> Any:
    """localsvc.yaml of the current directory (or a parent), applied under the command line:
    flags and LOCALSVC_ENV win over the file."""
    # The file may name a LAN-facing hostAddress only when the command line asks for one too.
    project = find_project(allow_public_host_address=args.host_address is not None)
    if project is None:
        return None
    say(f"using {project.path}")
    if not args.filename:
        args.filename = [str(p) for p in project.manifests]
    if args.host_address is None and project.host_address:
        args.host_address = project.host_address
    if args.cluster_domain is None and project.cluster_domain:
        args.cluster_domain = project.cluster_domain
    if args.ingress_http_port is None:
        args.ingress_http_port = project.ingress_ports[0]
    if args.ingress_https_port is None:
        args.ingress_https_port = project.ingress_ports[1]
    return project


def cmd_up(args: argparse.Namespace) -> int:
    from localsvc.host.api import load_manifests
    from localsvc.host.devloop.builds import ensure_project_image

    project = _project_for_up(args)
    if not args.filename:
        raise UsageError("up needs manifests: -f FILE_OR_DIR (or - for stdin), or a localsvc.yaml "
                         "listing them")
    env = environment(args)
    loaded = load_manifests(args.filename)  # bad manifests fail before any build; stdin read once
    for image in project.images if project is not None else ():
        ensure_project_image(env.docker, image, say)
    report = env.up(args.filename, wait=None, strict=args.strict, loaded=loaded)
    print_report(report)
    if args.detach:
        env.wait_ready(args.wait)
    if any(m.kind == "Ingress" for m in loaded.manifests):
        from localsvc.host.ingressurl import up_notice

        # After the wait (the controller starts meanwhile; a loaded machine took over 8 s).
        if note := up_notice(env, wait=30.0 if args.detach else 8.0):
            say(note)
    if args.detach:
        say(f"environment {env.name} is up; `localsvc get pods` to look, `localsvc down` to remove")
        say(kubectl_hint(env.name))
        if not args.no_ui:
            say("dashboard: localsvc ui (serves it and opens the browser)")
        return 0
    from localsvc.host.devloop.foreground import DevLoop

    loop = DevLoop(env, [Path(p) for p in args.filename], project, say, watch=not args.no_watch,
                   ui=not args.no_ui)
    return loop.run(keep=args.keep)


def kubectl_hint(env: str) -> str:
    from localsvc.model.kubeconfig import context_name

    return (f"kubectl: `localsvc kubeconfig --write` adds the context {context_name(env)} to "
            f"your kubeconfig, then `kubectl --context {context_name(env)} get pods`")


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    from localsvc.host.kubeconfig import write_context
    from localsvc.model.kubeconfig import context_name, dump

    env = environment(args)
    config = env.kubeconfig()
    if not args.write:
        print(dump(config), end="")
        return 0
    path = write_context(config, set_current=not args.no_switch)
    name = context_name(env.name)
    if args.no_switch:
        say(f"context {name} written to {path}; use it with `kubectl --context {name} ...`")
    else:
        say(f"context {name} written to {path} and made current: `kubectl get pods` now talks "
            f"to environment {env.name} (`localsvc down` removes the context)")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    if not args.filename:
        raise UsageError("apply needs manifests: -f FILE_OR_DIR (repeatable; - reads stdin)")
    env = environment(args)
    print_report(env.apply(args.filename, wait=None, strict=args.strict))
    if args.wait:
        env.wait_ready(args.wait)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from localsvc.host.devloop.status import status_table

    print(status_table(environment(args)))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Like `docker compose down`: everything goes but the volumes holding the claims' data,
    which `--volumes` (-v) removes too; the kept ones are named, with how to remove them."""
    from localsvc.host.keptclaims import kept_note, remove_hint

    if args.all:
        from localsvc.runtime import environment as envrt
        from localsvc.runtime import labels as L
        from localsvc.runtime.engine import connect

        from localsvc.host.kubeconfig import remove_context
        from localsvc.model.kubeconfig import context_name

        client = connect()
        names = {info.name for info in envrt.list_envs(client)}
        if args.volumes:  # environments `down` left nothing of but their claims' data
            names |= {v.attrs["Labels"][L.ENV] for v in client.volumes.list(
                filters={"label": [f"{L.ROLE}={L.ROLE_CLAIM_VOLUME}"]})}
        kept_by_env: dict[str, list[str]] = {}
        for name in sorted(names):
            removed = envrt.destroy(client, name, volumes=args.volumes)
            remove_context(context_name(name))
            print(f"environment {name} removed ({removed.counts['containers']} containers)")
            print(kept_note(name, removed.kept, hint=False), end="")
            kept_by_env[name] = removed.kept
        print(remove_hint(kept_by_env, "--all "), end="")
        return 0
    env = environment(args)
    removed = env.down(volumes=args.volumes)
    if not any(removed.counts.values()) and not removed.kept:
        say(f"environment {env.name} had nothing to remove")
    print(f"environment {env.name} removed: {removed.counts['containers']} containers, "
          f"{removed.counts['networks']} networks, {removed.counts['volumes']} volumes")
    print(kept_note(env.name, removed.kept), end="")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Environments whose node has been gone (missing or stopped) for a minute are left-overs of
    crashes: remove them. A younger one may be in the middle of `up`, so it is left alone."""
    from localsvc.runtime.engine import connect
    from localsvc.runtime.prune import PRUNE_AGE, prune_orphans

    min_age = PRUNE_AGE if args.min_age is None else args.min_age
    if min_age < 0:
        raise UsageError("prune: --min-age must be 0 or more seconds")
    pruned = prune_orphans(connect(), min_age=min_age, names=set(args.names) or None)
    for item in pruned:
        if item.error is None:
            print(item.message())
        else:
            error(item.message())
    if not pruned:
        say(f"no orphaned environments (a node must have been gone for {min_age:g} s)")
    return 1 if any(item.error is not None for item in pruned) else 0


def cmd_ls(args: argparse.Namespace) -> int:
    from localsvc.host.output import table
    from localsvc.runtime import environment as envrt
    from localsvc.runtime.engine import connect

    infos = envrt.list_envs(connect())
    if not infos:
        say("no environments")
        return 0
    rows = [["NAME", "NODE", "SUBNET", "API", "HOST DNS", "CREATED"]]
    rows += [[i.name, i.node_status, i.subnet or "-", i.api_url or "-", i.host_dns or "-",
              i.created or "-"] for i in infos]
    print(table(rows))
    return 0
