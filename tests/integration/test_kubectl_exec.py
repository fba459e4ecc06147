"""kubectl v1.32 exec, attach and cp against a real environment (issue 13, "Streams"): the
WebSocket channel protocol (v5) bridged to Docker exec and attach. One environment and one
namespace of pods for the module; each test uses its own pod or its own commands."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shlex
import ssl
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import DEMO_IMAGE, wait_for
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, python_client, shared_env, write_kubeconfig)
from localsvc.host.api import Environment

TMUX = shutil.which("tmux") or "/usr/bin/tmux"

PODS = f"""apiVersion: v1
kind: Pod
metadata: {{name: box}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {DEMO_IMAGE}
    command: ["sleep", "infinity"]
---
apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: first, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
  - {{name: second, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: ticker}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
"""


@pytest.fixture(scope="module")
def pods(kubectl: Kubectl) -> Iterator[str]:
    """A namespace with the module's long-running pods, all Ready."""
    name = kubectl.namespace(f"exec-{uuid.uuid4().hex[:6]}")
    kubectl.run("apply", "-n", name, "-f", "-", stdin=PODS)
    kubectl.run("wait", "-n", name, "--for=condition=Ready", "pod", "--all", "--timeout=60s",
                request_timeout=None, timeout=70)
    yield name
    kubectl.remove_namespace(name)


def test_exec_prints_the_command_output(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c", "echo hello; echo world")
    assert result.stdout == "hello\nworld\n"
    assert result.stderr == ""


def test_exec_reads_piped_stdin_to_its_end(kubectl: Kubectl, pods: str) -> None:
    # `cat` ends only when stdin's end reaches it: the v5 CLOSE signal, a half-close in Docker.
    text = "".join(f"line {i}\n" for i in range(2000))
    result = kubectl.run("exec", "-i", "-n", pods, "box", "--", "sh", "-c", "cat; echo done",
                         stdin=text, timeout=30)
    assert result.stdout == text + "done\n"


def test_exec_exit_codes_reach_kubectl(kubectl: Kubectl, pods: str) -> None:
    ok = kubectl.run("exec", "-n", pods, "box", "--", "true", check=False)
    assert ok.returncode == 0, ok.stderr
    failed = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3
    assert failed.stderr == "command terminated with exit code 3\n"


def test_exec_keeps_stderr_apart(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c",
                         "echo out; echo err >&2; echo out2")
    assert result.stdout == "out\nout2\n"
    assert result.stderr == "err\n"


def test_exec_output_larger_than_one_frame(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("exec", "-n", pods, "box", "--", "sh", "-c",
                         "head -c 3000000 /dev/zero | tr '\\0' x")
    assert result.stdout == "x" * 3_000_000


def test_exec_in_a_named_container_and_the_default(kubectl: Kubectl, pods: str) -> None:
    named = kubectl.run("exec", "-n", pods, "two", "-c", "second", "--", "sh", "-c",
                        "echo $HOSTNAME")
    assert named.stdout.strip() == "two"
    defaulted = kubectl.run("exec", "-n", pods, "two", "--", "true")
    assert 'Defaulted container "first" out of: first, second' in defaulted.stderr


def test_exec_errors_are_the_api_servers(kubectl: Kubectl, pods: str) -> None:
    unknown = kubectl.run("exec", "-n", pods, "two", "-c", "nope", "--", "true", check=False)
    assert unknown.returncode == 1
    assert "container nope is not valid for pod two" in unknown.stderr
    missing = kubectl.run("exec", "-n", pods, "ghost", "--", "true", check=False)
    assert missing.returncode == 1
    assert 'pods "ghost" not found' in missing.stderr
    bad = kubectl.run("exec", "-n", pods, "box", "--", "no-such-binary", check=False)
    # Docker's engine reports a missing binary in the stream with code 126 (as `docker exec`).
    assert bad.returncode == 126
    assert 'exec: "no-such-binary": executable file not found' in bad.stdout


def test_a_plain_post_gets_a_status_not_a_hang(kubectl: Kubectl, pods: str) -> None:
    result = kubectl.run("create", "--raw",
                         f"/api/v1/namespaces/{pods}/pods/box/exec?command=true&stdout=true",
                         "-f", "-", stdin="", check=False, timeout=20)
    assert result.returncode == 1
    assert "WebSocket only" in result.stderr and "BadRequest" in result.stderr


def test_exec_in_a_container_that_is_not_running(kubectl: Kubectl, pods: str) -> None:
    kubectl.run("apply", "-n", pods, "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: half}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: main, image: {DEMO_IMAGE}, command: ["sleep", "infinity"]}}
  - {{name: done, image: {DEMO_IMAGE}, command: ["true"]}}
""")

    def done_exited() -> bool:
        statuses = kubectl.json("get", "pod", "-n", pods, "half")["status"].get(
            "containerStatuses") or []
        return any(s["name"] == "done" and "terminated" in s.get("state", {}) for s in statuses)

    wait_for(done_exited, timeout=30, what="container done terminated")
    result = kubectl.run("exec", "-n", pods, "half", "-c", "done", "--", "true", check=False)
    assert result.returncode == 1
    assert result.stderr == ('error: Internal error occurred: unable to upgrade connection: '
                             'container not found ("done")\n')


class Tmux:
    """A private tmux server (its own socket) running one command in a real pseudo-terminal."""

    def __init__(self, socket_name: str, width: int, height: int):
        self.base = [TMUX, "-L", socket_name, "-f", "/dev/null"]
        self.width, self.height = width, height

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True,
                              timeout=10).stdout

    def start(self, command: list[str], environ: dict[str, str]) -> None:
        env_args = [arg for key in ("KUBECONFIG", "KUBECACHEDIR") if key in environ
                    for arg in ("-e", f"{key}={environ[key]}")]
        self.run("new-session", "-d", "-s", "main", "-x", str(self.width),
                 "-y", str(self.height), *env_args,
                 # The pane's shell prints the command's exit code when it ends (tmux's own
                 # pane_dead_status is not always set by the time the pane is marked dead).
                 f"{shlex.join(command)}; echo kubectl-exited-$?; sleep 60")

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "main", "-l", text)
        self.run("send-keys", "-t", "main", "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "main")

    def wait_screen(self, text: str, timeout: float = 20) -> str:
        return str(wait_for(lambda: text in self.screen() and self.screen(), timeout=timeout,
                            what=f"{text!r} on the tmux screen"))

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if not os.path.exists(TMUX):
        pytest.fail(f"tmux is not installed at {TMUX}: run scripts/setup")
    session = Tmux(f"localsvc-test-{uuid.uuid4().hex[:8]}", 100, 30)
    try:
        yield session
    finally:
        session.kill()


def test_exec_it_is_a_terminal_that_follows_its_size(kubectl: Kubectl, pods: str,
                                                     tmux: Tmux) -> None:
    command = kubectl.args(("exec", "-it", "-n", pods, "box", "--", "sh"), None)
    tmux.start(command, kubectl.environ())
    tmux.wait_screen("#")  # the shell's prompt: kubectl has sent the terminal's size
    tmux.type("stty size; tty; echo mark-$((6*7))")
    screen = tmux.wait_screen("mark-42")
    assert "30 100" in screen and "/dev/pts/" in screen, screen
    tmux.run("resize-window", "-t", "main", "-x", "120", "-y", "40")
    tmux.type("clear; stty size; echo resized-$((2*3))")
    screen = tmux.wait_screen("resized-6")
    assert "40 120" in screen, screen
    tmux.type("exit 4")
    screen = tmux.wait_screen("kubectl-exited-")
    assert "command terminated with exit code 4" in screen and "kubectl-exited-4" in screen, \
        screen


def _start_pod(kubectl: Kubectl, namespace: str, manifest: str, name: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", "-", stdin=manifest)
    kubectl.run("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}",
                "--timeout=60s", request_timeout=None, timeout=70)


def test_attach_follows_the_containers_output(kubectl: Kubectl, pods: str) -> None:
    attached = kubectl.stream("attach", "-n", pods, "ticker")
    try:
        lines = attached.until(lambda seen: len([s for s in seen if s.startswith("tick ")]) >= 3,
                               timeout=20, what="three ticks")
        ticks = [int(s.split()[1]) for s in lines if s.startswith("tick ")]
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # in order, none lost
    finally:
        attached.stop()


def test_attach_with_stdin_reaches_the_containers_stdin(kubectl: Kubectl, pods: str) -> None:
    _start_pod(kubectl, pods, f"""apiVersion: v1
kind: Pod
metadata: {{name: reader}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {DEMO_IMAGE}
    stdin: true
    command: ["sh", "-c", "read line; echo \\"got $line\\"; echo bye >&2"]
""", "reader")
    result = kubectl.run("attach", "-i", "-n", pods, "reader", stdin="hello\n", timeout=30)
    assert result.stdout == "got hello\n"
    assert "bye\n" in result.stderr


def test_attach_it_to_a_terminal_container(kubectl: Kubectl, pods: str, tmux: Tmux) -> None:
    _start_pod(kubectl, pods, f"""apiVersion: v1
kind: Pod
metadata: {{name: console}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: main, image: {DEMO_IMAGE}, stdin: true, tty: true, command: ["sh"]}}
""", "console")
    tmux.start(kubectl.args(("attach", "-it", "-n", pods, "console"), None), kubectl.environ())
    # Keys typed before kubectl is attached would race its first resize.
    tmux.wait_screen("If you don't see a command prompt")
    tmux.type("stty size; echo attached-$((5*5))")
    screen = tmux.wait_screen("attached-25")
    assert "30 100" in screen, screen


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cp_a_file_both_ways_byte_identical(kubectl: Kubectl, pods: str,
                                            tmp_path: Path) -> None:
    original = tmp_path / "blob.bin"
    original.write_bytes(os.urandom(700_000) + bytes(range(256)) * 4)
    kubectl.run("cp", str(original), f"{pods}/box:/tmp/blob.bin", timeout=60)
    inside = kubectl.out("exec", "-n", pods, "box", "--", "sha256sum", "/tmp/blob.bin")
    assert inside.split()[0] == _sha256(original)
    back = tmp_path / "back.bin"
    kubectl.run("cp", f"{pods}/box:/tmp/blob.bin", str(back), timeout=60)
    assert back.read_bytes() == original.read_bytes()


def test_cp_a_directory_both_ways(kubectl: Kubectl, pods: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "empty").mkdir()
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(100_000),
             "sub/deeper/c with space.txt": b"gamma\n" * 1000, "zero": b""}
    for relative, content in files.items():
        (tree / relative).write_bytes(content)
    kubectl.run("cp", str(tree), f"{pods}/box:/tmp/tree", timeout=60)
    back = tmp_path / "back"
    kubectl.run("cp", f"{pods}/box:/tmp/tree", str(back), timeout=60)
    for relative, content in files.items():
        assert (back / relative).read_bytes() == content, relative
    assert (back / "empty").is_dir()


def _node_container(kubectl: Kubectl) -> Any:
    found = kubectl.env.docker.containers.list(filters={"label": [
        f"io.localsvc.env={kubectl.env.name}", "io.localsvc.role=node"]})
    assert len(found) == 1, found
    return found[0]


def _node_resources(node: Any) -> tuple[int, int]:
    """Open file descriptors and threads of the node's process."""
    result = node.exec_run(["sh", "-c", "ls /proc/1/fd | wc -l; "
                                        "sed -n 's/^Threads:\\s*//p' /proc/1/status"])
    fds, threads = result.output.decode().split()
    return int(fds), int(threads)


def _command_lines(kubectl: Kubectl, pods: str) -> list[str]:
    """The command lines of pod box's processes."""
    script = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
    output = kubectl.env.docker.containers.get(kubectl.env.container_id("box", None, pods)) \
        .exec_run(["sh", "-c", script]).output.decode()
    return [line.strip() for line in output.splitlines()]


def _running(kubectl: Kubectl, pods: str, marker: str) -> int:
    """Processes in pod box whose command line holds `marker`."""
    return sum(marker in line for line in _command_lines(kubectl, pods))


def test_a_client_leaving_mid_stream_leaks_nothing(kubectl: Kubectl, pods: str) -> None:
    """The node frees its side (threads, sockets); the process is left to run, as a cluster
    leaves it (neither the kubelet nor containerd ends an exec whose client went away), except
    that one reading its stdin gets its EOF."""
    node = _node_container(kubectl)
    kubectl.run("exec", "-n", pods, "box", "--", "true")  # the node's thread pool warmed up
    fds_before, threads_before = _node_resources(node)
    sessions = [  # (kubectl's arguments, the marker of its process, whether it ends)
        (["exec", "-n", pods, "box", "--", "sh", "-c", "sleep 297; echo never"], "sleep 297",
         False),
        (["exec", "-i", "-n", pods, "box", "--", "sh", "-c", "sleep 296"], "sleep 296", False),
        (["exec", "-i", "-n", pods, "box", "--", "sh", "-c", "cat; sleep 295"], "cat; sleep 295",
         True),
    ]
    for args, marker, ends in sessions:
        client = subprocess.Popen(kubectl.args(tuple(args), None), stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=kubectl.environ())
        try:
            wait_for(lambda: _running(kubectl, pods, marker) > 0, timeout=15,
                     what="the exec to run")
        finally:
            client.kill()  # abruptly: no close frame, no stdin end
            client.wait(timeout=5)
        if ends:  # `cat` reads the EOF of the stream the node closed; `sleep 295` runs then
            wait_for(lambda: "cat" not in _command_lines(kubectl, pods), timeout=15,
                     what="cat to end with the closed stream")
            assert _running(kubectl, pods, "sleep 295") > 0
        else:
            time.sleep(2)
            assert _running(kubectl, pods, marker) > 0, f"{marker} ended with its client"
    attached = kubectl.stream("attach", "-n", pods, "ticker")
    try:
        attached.until(lambda seen: any(s.startswith("tick ") for s in seen), timeout=15,
                       what="a tick")
    finally:
        attached.process.kill()  # an attach left abruptly too
        attached.stop()
    time.sleep(1)
    fds_after, threads_after = _node_resources(node)
    assert fds_after <= fds_before, (fds_before, fds_after)
    assert threads_after <= threads_before, (threads_before, threads_after)


def test_the_python_client_speaks_v4(kubectl: Kubectl, pods: str) -> None:
    """The official Python client offers only v4.channel.k8s.io: output apart, the exit code
    from the error channel's Status, stdin, and a TTY resized over channel 4."""
    from kubernetes.stream import stream  # the test dependency, imported where it is used

    api = python_client(kubectl.kubeconfig)
    session = stream(api.connect_get_namespaced_pod_exec, "box", pods,
                     command=["sh", "-c", "echo out; echo err >&2; exit 3"],
                     stdout=True, stderr=True, stdin=False, tty=False,
                     _preload_content=False)
    session.run_forever(timeout=20)
    assert session.read_stdout(timeout=5) == "out\n"
    assert session.read_stderr(timeout=5) == "err\n"
    assert session.returncode == 3

    session = stream(api.connect_get_namespaced_pod_exec, "box", pods,
                     command=["sh", "-c", "head -n 1; stty size"], stdin=True, stdout=True,
                     stderr=False, tty=True, _preload_content=False)
    try:
        session.write_channel(4, '{"Width": 91, "Height": 17}')
        time.sleep(0.5)  # the resize reaches the engine before `stty size` runs
        session.write_stdin("first line\n")
        session.run_forever(timeout=20)
        output = session.read_stdout(timeout=5)
    finally:
        session.close()
    assert "first line" in output and "17 91" in output, output
    assert session.returncode == 0


async def _raw_session(kubectl: Kubectl, path: str, protocols: tuple[str, ...],
                       send: list[bytes]) -> list[bytes]:
    """The binary messages a raw WebSocket client gets for `path`, after sending `send`."""
    import aiohttp  # the node's own dependency, a client here

    cluster = kubectl.env.kubeconfig()["clusters"][0]["cluster"]
    user = kubectl.env.kubeconfig()["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    received: list[bytes] = []
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        async with client.ws_connect(cluster["server"] + path, protocols=protocols, ssl=context,
                                     headers={"Authorization": f"Bearer {user['token']}"}) as ws:
            for message in send:
                await ws.send_bytes(message)
            async for msg in ws:
                received.append(msg.data)
    return received


def test_older_protocols_and_unserved_ones(kubectl: Kubectl, pods: str) -> None:
    import aiohttp

    path = (f"/api/v1/namespaces/{pods}/pods/box/exec?command=sh&command=-c"
            "&command=echo+hi%3B+exit+2&stdout=true&stderr=true")
    frames = asyncio.run(_raw_session(kubectl, path, ("channel.k8s.io",), []))
    assert frames[0] == b"\x01hi\n"
    # v1 has no Status: the error channel carries the failure's text.
    assert frames[-1] == (b"\x03command terminated with non-zero exit code: error executing "
                          b"command [sh -c echo hi; exit 2], exit code 2")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(_raw_session(kubectl, path, ("base64.channel.k8s.io",), []))
    assert refused.value.status == 400


def test_v4_without_close_signal_takes_stdin(kubectl: Kubectl, pods: str) -> None:
    path = (f"/api/v1/namespaces/{pods}/pods/box/exec?command=head&command=-c&command=6"
            "&stdin=true&stdout=true")
    # [255, 0] is no close signal before v5: stdin data of channel 255, dropped.
    frames = asyncio.run(_raw_session(kubectl, path, ("v4.channel.k8s.io",),
                                      [b"\xff\x00", b"\x00abc", b"\x00def\n"]))
    assert b"".join(f[1:] for f in frames if f[:1] == b"\x01") == b"abcdef"
    assert frames[-1] == b'\x03{"metadata":{},"status":"Success"}'


def test_the_nodes_shutdown_ends_followed_logs_and_exec_sessions(env: Environment,
                                                                 tmp_path: Path) -> None:
    """A followed log and an exec session open when the node stops: it cancels them and exits
    at once (aiohttp would wait for them up to its 60 s shutdown timeout, and Docker's stop
    would kill the node first)."""
    env.ensure()
    own = Kubectl(env, write_kubeconfig(env, tmp_path))
    own.run("apply", "-f", "-", stdin=f"""apiVersion: v1
kind: Pod
metadata: {{name: quiet}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: main, image: {DEMO_IMAGE}, command: ["sh", "-c", "echo once; sleep 3600"]}}
""")
    own.run("wait", "--for=condition=Ready", "pod/quiet", "--timeout=60s",
            request_timeout=None, timeout=70)
    log = own.stream("logs", "-f", "quiet", request_timeout="0")
    session = own.stream("exec", "quiet", "--", "sh", "-c", "echo in; sleep 300",
                         request_timeout="0")
    try:
        log.until(lambda seen: "once" in seen, timeout=20, what="the log")
        session.until(lambda seen: "in" in seen, timeout=20, what="the exec's output")
        node = _node_container(own)
        started = time.monotonic()
        node.stop(timeout=30)
        stopped_in = time.monotonic() - started
        node.reload()
        assert node.attrs["State"]["ExitCode"] == 0, node.attrs["State"]
        assert stopped_in < 8, f"the node took {stopped_in:.1f}s to stop"
        # both clients see their stream end
        log.process.wait(timeout=10)
        session.process.wait(timeout=10)
    finally:
        log.stop()
        session.stop()
