"""What every command shares: which environment it targets, messages on stderr, usage errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localsvc.errors import LocalsvcError
from localsvc.host.logstream import use_colour

if TYPE_CHECKING:
    from localsvc.host.api import Environment
    from localsvc.model.project import Project


class UsageError(LocalsvcError):
    """Wrong use of the command line (exit code 2)."""


def say(message: str) -> None:
    """Progress and diagnostics: stderr, dimmed on a terminal."""
    colour = use_colour(sys.stderr)
    sys.stderr.write((f"\033[2m{message}\033[0m" if colour else message) + "\n")
    sys.stderr.flush()


def error(message: str) -> None:
    colour = use_colour(sys.stderr)
    sys.stderr.write(("\033[31merror:\033[0m " if colour else "error: ") + message + "\n")
    sys.stderr.flush()


def find_project(allow_public_host_address: bool = False) -> Project | None:
    """The localsvc.yaml governing the current directory, validated, or None. A non-loopback
    `hostAddress` in it is an error unless the command line allowed it (`up --host-address`)."""
    from localsvc.model.project import find_project as find, load_project

    found = find(Path.cwd())
    if found is None:
        return None
    return load_project(found, allow_public_host_address=allow_public_host_address)


def target_environment(args: argparse.Namespace) -> str:
    """The environment this command targets, by the one rule of localsvc.model.project:
    --env/-e, then $LOCALSVC_ENV, then localsvc.yaml's `environment:` (or its directory's
    default name), then the current directory's default name."""
    from localsvc.model.project import target_environment as choose

    return choose(getattr(args, "env", None), Path.cwd())


def environment(args: argparse.Namespace) -> Environment:
    """The Environment this command targets, with the creation options `up` may have given."""
    from localsvc.host.api import Environment

    return Environment(
        target_environment(args),
        subnet=getattr(args, "subnet", None),
        cluster_domain=getattr(args, "cluster_domain", None) or "cluster.local",
        proxy_mode=getattr(args, "proxy_mode", "auto"),
        host_address=getattr(args, "host_address", None) or "127.0.0.1",
        node_port_range=getattr(args, "node_port_range", "30000-32767"),
        host_dns_port=getattr(args, "host_dns", None),
        progress=say,
        ingress_ports=(getattr(args, "ingress_http_port", None),
                       getattr(args, "ingress_https_port", None)),
    )


def print_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        kind = r["kind"].lower()
        where = f" -n {r['namespace']}" if r["namespace"] not in ("", "default") else ""
        print(f"{kind}/{r['name']}{where} {r['action']}")


def print_report(report: Any) -> None:
    for line in report.skipped:
        say(line)
    for line in report.warnings:
        say("warning: " + line)
    print_results(report.results)
