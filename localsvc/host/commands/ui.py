"""`localsvc ui`: serve the environment's dashboard on 127.0.0.1 until Ctrl-C, and open it in
the browser through a one-time login link (like `minikube dashboard`)."""

from __future__ import annotations

import argparse
import webbrowser

from localsvc.host.commands.common import environment, say

HELP = ("serve the environment's dashboard (a live map of its Services, endpoints and pods, with "
        "logs and actions) on 127.0.0.1 until Ctrl-C, and open it in the browser")
DESCRIPTION = """serve the environment's dashboard on 127.0.0.1 until Ctrl-C, and open it in the browser:
a live map of its Services, endpoints and pods, with logs and actions.

The page is served by this process, on 127.0.0.1 only, and reads and writes the environment
through its Kubernetes API, as kubectl does: the environment's token stays in this process. The
browser signs in with a one-time login link (valid ten minutes, usable once), which this command
opens, or only prints with --no-open; the link gives the browser a session cookie for as long as
this command runs. Run the command again for a new link.

A foreground `localsvc up` serves the dashboard too, and prints its link."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, metavar="PORT",
                        help="port on 127.0.0.1 (default $LOCALSVC_UI_PORT, else any free port)")
    parser.add_argument("--no-open", action="store_true",
                        help="print the login link instead of opening the browser")


def cmd_ui(args: argparse.Namespace) -> int:
    from localsvc.host.dashboard.runner import for_environment

    env = environment(args)
    dashboard = for_environment(env, port=args.port)
    link = dashboard.login_url()
    print(f"dashboard: {link}", flush=True)
    say(f"serving the dashboard of environment {env.name} on {dashboard.url} "
        "(the link works once, for ten minutes); Ctrl-C stops it")

    def open_browser() -> None:
        if not webbrowser.open(link):
            say("could not start a browser: open the link above")

    dashboard.serve(on_ready=None if args.no_open else open_browser)
    say("dashboard stopped")
    return 0
