"""The foreground `localsvc up`: stream every pod's logs, watch files, show status on demand,
stop cleanly on Ctrl-C (pods get their grace period; a second Ctrl-C forces).

Watching: a manifest change is re-validated and, if valid, applied with `up` semantics (only what
changed is touched; removed objects are deleted); invalid edits print the errors and change
nothing. A change under an image's build context rebuilds that image and rolls only the pods that
use it, unless every changed file falls under one `sync` rule: then the files are copied into the
running containers.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import threading
import tty
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import watchfiles

from localsvc.host.api import Environment, load_manifests
from localsvc.host.dashboard.runner import start_for_devloop
from localsvc.host.devloop.builds import ensure_project_image
from localsvc.host.devloop.changes import ChangePlan, plan_changes
from localsvc.host.devloop.status import status_table
from localsvc.host.devloop.sync import containers_running, sync_files
from localsvc.host.keptclaims import kept_note
from localsvc.errors import LocalsvcError, ManifestError
from localsvc.host.logstream import LogStreamer
from localsvc.model.project import Project

Say = Callable[[str], None]


class DevLoop:
    def __init__(self, env: Environment, manifests: Sequence[Path], project: Project | None,
                 say: Say, watch: bool = True, ui: bool = False):
        self.env = env
        self.ui = ui  # serve the dashboard while the loop runs
        self.manifests = [Path(p) for p in manifests]
        self.project = project
        self.say = say
        self.watch = watch
        self.stop_event = threading.Event()
        self.forced = threading.Event()

    # ---- reacting to changes ----------------------------------------------------------------

    def handle(self, changed: set[Path]) -> ChangePlan:
        plan = plan_changes(changed, self.manifests, self.project)
        if plan.project_file:
            self.say("localsvc.yaml changed: restart `localsvc up` to use it")
        for image, rule, files in plan.syncs:
            pods = self.env.get("pods", namespace=None)
            targets = containers_running(pods, image.name)
            copies = sync_files(self.env.docker, targets, rule, files)
            self.say(f"synced {len(files)} file(s) into {len(targets)} container(s) of {image.name} "
                     f"({copies} copies)")
        for image in plan.rebuilds:
            try:
                if ensure_project_image(self.env.docker, image, self.say):
                    results = self.env.restart_image(image.name)
                    self.say(f"rebuilt {image.name}; rolling " + (", ".join(
                        f"{r['kind'].lower()}/{r['name']}" for r in results) or "no pods"))
            except LocalsvcError as err:
                self.say(f"build of {image.name} failed; running pods are unchanged:\n{err}")
        if plan.reapply:
            self.reapply()
        return plan

    def reapply(self) -> None:
        try:
            load_manifests(self.manifests)
        except ManifestError as err:
            self.say(f"{err}")
            return
        try:
            report = self.env.up(self.manifests, wait=None)
        except LocalsvcError as err:
            self.say(f"apply failed: {err}")
            return
        changed = [r for r in report.results if r["action"] != "unchanged"]
        for r in changed:
            self.say(f"{r['kind'].lower()}/{r['name']} {r['action']}")
        if not changed:
            self.say("manifests saved; nothing changed")

    def roots(self) -> list[Path]:
        """Directories to watch. A file is watched through its directory: editors save by
        writing a new file and renaming it, which ends a watch on the old file."""
        paths = [p for p in self.manifests if p.exists()]
        if self.project is not None:
            paths.append(self.project.path)
            paths += [image.context for image in self.project.images]
        roots: list[Path] = []
        for path in (p if p.is_dir() else p.parent for p in paths):
            resolved = path.resolve()
            if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
                roots = [r for r in roots if not r.is_relative_to(resolved)] + [resolved]
        return roots

    def _watch(self) -> None:
        for batch in watchfiles.watch(*self.roots(), stop_event=self.stop_event, debounce=300,
                                      step=50, raise_interrupt=False):
            try:
                self.handle({Path(path) for _, path in batch})
            except Exception as err:  # keep watching whatever one change hit
                self.say(f"could not handle the change: {err}")

    # ---- the foreground session -----------------------------------------------------------

    def run(self, keep: bool = False) -> int:
        streamer = LogStreamer(self.env)
        threading.Thread(target=streamer.run, name="logs", daemon=True).start()
        if self.watch:
            threading.Thread(target=self._watch, name="watch", daemon=True).start()
        dashboard = start_for_devloop(self.env, self.say) if self.ui else None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum: int, frame: Any) -> None:
            if self.stop_event.is_set():
                self.forced.set()
                self.say("second interrupt: removing everything now")
                return
            self.stop_event.set()

        for sig in previous:
            signal.signal(sig, on_signal)
        hint = "; press s for status" if sys.stdin.isatty() else ""
        watching = ", watching for changes" if self.watch else ""
        self.say(f"environment {self.env.name} is running{watching}{hint}; Ctrl-C stops it")
        try:
            self._wait_for_stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        streamer.stop()  # and wait for its Warning-event follower
        if dashboard is not None:
            dashboard.stop()
        if keep:
            self.say(f"leaving environment {self.env.name} running (--keep)")
            return 0
        return self._stop()

    def _wait_for_stop(self) -> None:
        if not sys.stdin.isatty():
            self.stop_event.wait()
            return
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while not self.stop_event.is_set():
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready and os.read(fd, 1) in (b"s", b"S"):
                    try:
                        self.say("\n" + status_table(self.env))
                    except LocalsvcError as err:
                        self.say(str(err))
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _stop(self) -> int:
        self.say(f"stopping environment {self.env.name} (pods get their grace period; "
                 "Ctrl-C again to force) ...")
        result: dict[str, bool] = {}
        worker = threading.Thread(target=lambda: result.update(clean=self.env.drain()),
                                  daemon=True)
        worker.start()
        while worker.is_alive() and not self.forced.is_set():
            worker.join(0.1)
        forced = self.forced.is_set()  # (a Ctrl-C during the removal below changes nothing)
        kept = kept_note(self.env.name, self.env.down().kept).rstrip("\n")
        if forced:
            self.say("forced: everything removed" + (f"; {kept}" if kept else ""))
            return 1
        clean = result.get("clean", False)
        self.say(f"stopped cleanly; {kept or 'nothing left behind'}" if clean else
                 "some pods did not stop within their grace period and were killed")
        return 0 if clean else 1
