"""`localsvc logs`: one pod (or the pod a Deployment/Service picks), every pod a selector
matches, or, with no pod, every pod of the environment (like `docker compose logs`).

With -f a stream follows its container across restarts (each restart is a new container) until
the pod is deleted or finished; with -l or no pod, pods that appear later are followed too.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localsvc.host.commands.common import UsageError, environment, error, say
from localsvc.host.commands.logtime import since_of
from localsvc.host.commands.podtargets import resolve_pod, selected_pods
from localsvc.errors import LocalsvcError, NotFound
from localsvc.host.logstream import LineSplitter
from localsvc.model.labelselector import parse_selector

Obj = dict[str, Any]
SELECTOR_TAIL = 10
_POLL = 0.5  # how often a follower looks for a restarted container or new pods


@dataclass(frozen=True)
class Stream:
    namespace: str
    pod: str
    container: str


@dataclass(frozen=True)
class LogOptions:
    since: float | None = None
    tail: int | None = None
    timestamps: bool = False
    previous: bool = False

    def docker_kwargs(self, first: bool) -> dict[str, Any]:
        """Arguments of Docker's logs call; a restarted container is shown from its start."""
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": self.timestamps}
        if first and self.since is not None:
            kwargs["since"] = self.since
        if first and self.tail is not None and self.tail >= 0:  # negative: the whole log
            kwargs["tail"] = self.tail
        return kwargs


def effective_tail(tail: int | None, selector: bool) -> int | None:
    """As kubectl: with a selector, the last 10 lines of each container unless --tail says."""
    return tail if tail is not None or not selector else SELECTOR_TAIL


def prefix_of(stream: Stream) -> bytes:
    """kubectl's --prefix format."""
    return f"[pod/{stream.pod}/{stream.container}] ".encode()


def container_names(pod: Obj, init: bool) -> list[str]:
    spec = pod.get("spec") or {}
    names = [str(c["name"]) for c in spec.get("initContainers") or []] if init else []
    return names + [str(c["name"]) for c in spec.get("containers") or []]


def streams_of(pods: list[Obj], container: str | None, all_containers: bool) -> list[Stream]:
    """The (pod, container) logs to show: -c (in the pods that have it), every container (init
    ones first), or each pod's first."""
    out = []
    for pod in pods:
        meta = pod["metadata"]
        names = container_names(pod, init=all_containers)
        if all_containers:
            chosen = names
        elif container:
            chosen = [container] if container in container_names(pod, init=True) else []
        else:
            chosen = names[:1]
        out += [Stream(meta.get("namespace") or "default", meta["name"], c) for c in chosen]
    return out


class Printer:
    """Whole lines to stdout from several threads, each with its stream's prefix or none."""

    def __init__(self, prefixed: bool):
        self.prefixed = prefixed
        self.lock = threading.Lock()

    def write(self, stream: Stream, lines: list[bytes]) -> None:
        if not lines:
            return
        head = prefix_of(stream) if self.prefixed else b""
        data = b"".join(head + line + b"\n" for line in lines)
        with self.lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def _container_id(pod: Obj, name: str, previous: bool) -> str | None:
    status = pod.get("status") or {}
    for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if s.get("name") == name:
            cid = ((s.get("lastState") or {}).get("terminated") or {}).get("containerID") \
                if previous else s.get("containerID")
            return str(cid).removeprefix("docker://") if cid else None
    return None


def init_container_done(pod: Obj, name: str) -> bool:
    """An init container that succeeded never runs again in this pod."""
    for s in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if s.get("name") == name:
            terminated = (s.get("state") or {}).get("terminated") or {}
            return bool(terminated) and terminated.get("exitCode") == 0
    return False


def print_once(env: Any, stream: Stream, options: LogOptions, printer: Printer) -> None:
    import docker.errors

    pod = env.pod(stream.pod, stream.namespace)
    if stream.container not in container_names(pod, init=True):
        raise NotFound(f'container "{stream.container}" not found in pod "{stream.pod}"; it has: '
                       + ", ".join(container_names(pod, init=True)))
    cid = _container_id(pod, stream.container, options.previous)
    if cid is None:
        which = "previous terminated container" if options.previous else "container"
        raise LocalsvcError(f'{which} "{stream.container}" in pod "{stream.pod}" has not started')
    try:
        data = env.docker.containers.get(cid).logs(**options.docker_kwargs(first=True))
    except docker.errors.NotFound as err:
        raise NotFound(f"the container of pod {stream.pod} is gone") from err
    splitter = LineSplitter()
    printer.write(stream, splitter.feed(data) + splitter.finish())


class Follower:
    """One thread per stream, each following its container across restarts."""

    def __init__(self, env: Any, options: LogOptions, printer: Printer):
        self.env = env
        self.options = options
        self.printer = printer
        self.stopped = threading.Event()
        self.threads: dict[Stream, threading.Thread] = {}

    def add(self, streams: list[Stream]) -> None:
        for stream in streams:
            if stream not in self.threads:
                thread = threading.Thread(target=self._follow, args=(stream,), daemon=True,
                                          name=f"logs {stream.pod}/{stream.container}")
                self.threads[stream] = thread
                thread.start()

    def run(self, discover: Callable[[], list[Stream]] | None) -> None:
        """Until every stream ended (or forever when new pods are discovered)."""
        while discover is not None or any(t.is_alive() for t in self.threads.values()):
            if discover is not None:
                try:
                    self.add(discover())
                except LocalsvcError:
                    pass  # the node restarting: ask again on the next round
            time.sleep(_POLL * 2)

    def _follow(self, stream: Stream) -> None:
        seen: set[str] = set()
        while not self.stopped.is_set():
            try:
                pod = self.env.pod(stream.pod, stream.namespace)
            except NotFound:
                return  # the pod was deleted
            except LocalsvcError:
                time.sleep(_POLL)
                continue
            cid = _container_id(pod, stream.container, previous=False)
            if cid is not None and cid not in seen:
                self._stream(stream, cid, first=not seen)
                seen.add(cid)
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or \
                    init_container_done(pod, stream.container):
                return  # no container of this stream starts again
            time.sleep(_POLL)

    def _stream(self, stream: Stream, cid: str, first: bool) -> None:
        import docker.errors

        splitter = LineSplitter()
        try:
            container = self.env.docker.containers.get(cid)
            kwargs = self.options.docker_kwargs(first)
            for chunk in container.logs(stream=True, follow=True, **kwargs):
                self.printer.write(stream, splitter.feed(chunk))
        except docker.errors.NotFound:
            pass  # removed already: its successor is followed next
        self.printer.write(stream, splitter.finish())


def follows_by_default(args: argparse.Namespace, interactive: bool) -> bool:
    """Bare `localsvc logs` (no pod, no -l) on a terminal follows every pod, as a compose user's
    `docker compose logs -f` after `up -d`; in a pipe or a CI log it prints and exits, so a
    step that dumps logs after a failure cannot hang."""
    return interactive and not args.target and args.selector is None and not args.previous


def cmd_logs(args: argparse.Namespace) -> int:
    if follows_by_default(args, sys.stdout.isatty()):
        args.follow = True
    options = LogOptions(since_of(args.since, args.since_time, time.time()),
                         effective_tail(args.tail, args.selector is not None),
                         args.timestamps, args.previous)
    if args.target and args.selector is not None:
        raise UsageError("logs: give either POD (or KIND/NAME) or -l SELECTOR, not both")
    if args.previous and args.follow:
        raise UsageError("logs: --previous shows a finished container; it cannot be followed (-f)")
    if args.container and args.all_containers:
        raise UsageError("logs: give either -c CONTAINER or --all-containers, not both")
    env = environment(args)
    # Bare `logs` shows every container, as compose does; -l shows each pod's first, as kubectl.
    every = args.all_containers or (not args.target and args.selector is None and not args.container)
    discover: Callable[[], list[Stream]] | None = None
    if args.target:
        namespace = args.namespace
        pods = [env.pod(resolve_pod(env, args.target, namespace), namespace)]
        names, pod_name = container_names(pods[0], init=True), pods[0]["metadata"]["name"]
        if args.container and args.container not in names:
            raise NotFound(f'container "{args.container}" not found in pod "{pod_name}"; '
                           f'it has: {", ".join(names)}')
        running = container_names(pods[0], init=False)
        if not args.container and not args.all_containers and len(running) > 1:
            say(f'defaulted container "{running[0]}" out of: {", ".join(running)}')
        prefixed = args.all_containers
    else:
        namespace = None if args.all_namespaces or args.selector is None else args.namespace
        selector = parse_selector(args.selector or "")
        pods = selected_pods(env, selector, namespace)

        def discover_streams() -> list[Stream]:
            return streams_of(selected_pods(env, selector, namespace), args.container, every)

        discover = discover_streams
        prefixed = True
        if not pods and not args.follow:
            where = "" if namespace is None else f" in {namespace} namespace"
            say(f"No resources found{where}.")
    printer = Printer(prefixed)
    streams = streams_of(pods, args.container, every)
    if not args.follow:
        failed = False
        for stream in streams:
            try:
                print_once(env, stream, options, printer)
            except LocalsvcError as err:
                if len(streams) == 1:
                    raise
                error(str(err))
                failed = True
        return 1 if failed else 0
    follower = Follower(env, options, printer)
    follower.add(streams)
    try:
        follower.run(discover)
    except KeyboardInterrupt:
        follower.stopped.set()
    return 0
