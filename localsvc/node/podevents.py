"""The Events of one pod, in the kubelet's words (1.32: pkg/kubelet/events, kuberuntime,
images, prober) and the scheduler's: what the pod worker and its probers report.

Each method records at once (localsvc/node/events.py: synchronous, never raising); a worker
without a recorder (unit tests) records nothing.
"""

from __future__ import annotations

import docker.errors

from localsvc.model import events as ev
from localsvc.model.events import ObjectRef
from localsvc.node.events import EventRecorder


class PodEvents:
    def __init__(self, recorder: EventRecorder | None, namespace: str, name: str, uid: str):
        self.recorder = recorder
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.ref = ObjectRef("Pod", namespace, name, uid)

    def _record(self, type_: str, reason: str, message: str, container: str = "",
                init: bool = False, component: str = ev.KUBELET) -> None:
        if self.recorder is None:
            return
        ref = self.ref.container(container, init) if container else self.ref
        self.recorder.record(ref, type_, reason, message, component)

    def scheduled(self) -> None:
        if self.recorder is None:
            return
        reason, message = ev.scheduled(self.namespace, self.name, self.recorder.host)
        self._record(ev.NORMAL, reason, message, component=ev.SCHEDULER)

    def pulling(self, container: str, init: bool, image: str) -> None:
        self._record(ev.NORMAL, "Pulling", f'Pulling image "{image}"', container, init)

    def pulled(self, container: str, init: bool, image: str, pulled: bool,
               seconds: float, size: int = 0) -> None:
        """`size` in bytes of a pulled image (0 when unknown, as the kubelet prints it)."""
        if pulled:
            message = (f'Successfully pulled image "{image}" in {_duration(seconds)} '
                       f"({_duration(seconds)} including waiting). Image size: {size} bytes.")
        else:
            message = f'Container image "{image}" already present on machine'
        self._record(ev.NORMAL, "Pulled", message, container, init)

    def pull_failed(self, container: str, init: bool, image: str, never: bool,
                    error: str) -> None:
        if never:
            self._record(ev.WARNING, "ErrImageNeverPull",
                         f'Container image "{image}" is not present with pull policy of Never',
                         container, init)
            self._record(ev.WARNING, "Failed", "Error: ErrImageNeverPull", container, init)
            return
        self._record(ev.WARNING, "Failed", f'Failed to pull image "{image}": {error}',
                     container, init)
        self._record(ev.WARNING, "Failed", "Error: ErrImagePull", container, init)
        self._record(ev.NORMAL, "BackOff", f'Back-off pulling image "{image}"', container, init)

    def created(self, container: str, init: bool) -> None:
        self._record(ev.NORMAL, "Created", f"Created container: {container}", container, init)

    def started(self, container: str, init: bool) -> None:
        self._record(ev.NORMAL, "Started", f"Started container {container}", container, init)

    def failed(self, container: str, init: bool, error: str) -> None:
        self._record(ev.WARNING, "Failed", f"Error: {error}", container, init)

    def failed_mount(self, message: str) -> None:
        """A volume could not be set up (the kubelet's FailedMount; `message` names it)."""
        self._record(ev.WARNING, "FailedMount", message)

    def killing(self, container: str, probe: str = "") -> None:
        """Stopping a container: its `probe` ("liveness", "startup") failed, or the pod goes."""
        message = (f"Container {container} failed {probe} probe, will be restarted" if probe
                   else f"Stopping container {container}")
        self._record(ev.NORMAL, "Killing", message, container)

    def back_off(self, container: str, init: bool) -> None:
        reason, message = ev.back_off(container, self.name, self.namespace, self.uid)
        self._record(ev.WARNING, reason, message, container, init)

    def unhealthy(self, container: str, probe: str, output: str) -> None:
        """A `probe` ("readiness", "liveness", "startup") failed, saying `output`."""
        self._record(ev.WARNING, "Unhealthy", f"{probe.capitalize()} probe failed: {output}",
                     container)


def pull_error(err: BaseException) -> str:
    """What the kubelet's `Failed to pull image "x": <error>` says: the runtime's error (the
    Docker pull's, which runtime/pods.py raises ImageMissing from), not localsvc's advice."""
    cause = err.__cause__
    if isinstance(cause, docker.errors.APIError):
        return str(cause.explanation or cause)
    return str(cause or err)


def _duration(seconds: float) -> str:
    """Go's time.Duration printing, to the millisecond (e.g. "1.234s", "850ms")."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


__all__ = ["PodEvents", "pull_error"]
