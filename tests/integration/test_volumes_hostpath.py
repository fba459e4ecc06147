"""hostPath volumes against the real engine (issue 14): the dev-loop source mount sees edits
made on the host, DirectoryOrCreate and FileOrCreate create, a missing File is a clear error on
the pod (kubectl, which the CLI's own check does not see) and a validation error at `apply`."""

from __future__ import annotations

import json
import socket
import stat
import sys
import textwrap
from pathlib import Path

from localsvc.host.api import Environment

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, exec_out, localsvc, wait_for, write  # noqa: E402
from kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: E402,F401


def _pod(name: str, namespace: str, volumes: str, mounts: str) -> str:
    """A sleeping pod with these volumes and mounts (YAML list items, unindented)."""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            "spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: app\n"
            f"    image: {DEMO_IMAGE}\n    command: [sleep, '600']\n    volumeMounts:\n"
            f"{textwrap.indent(mounts, '    ')}  volumes:\n{textwrap.indent(volumes, '  ')}")


def _waiting(kubectl: Kubectl, namespace: str, pod: str) -> dict[str, str]:
    obj = kubectl.json("get", "pod", pod, "-n", namespace, "-o", "json")
    statuses = (obj.get("status") or {}).get("containerStatuses") or [{}]
    return dict((statuses[0].get("state") or {}).get("waiting") or {})


def test_source_dir_edits_and_created_paths(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("print('v1')\n")
    made = tmp_path / "made"
    created = tmp_path / "created.conf"
    listening = socket.socket(socket.AF_UNIX)  # Socket and CharDevice: checked as honestly
    listening.bind(str(tmp_path / "app.sock"))
    manifest = write(tmp_path, "pod.yaml", _pod("dev", ns, textwrap.dedent(f"""\
        - {{name: src, hostPath: {{path: {src}, type: Directory}}}}
        - {{name: made, hostPath: {{path: {made}, type: DirectoryOrCreate}}}}
        - {{name: conf, hostPath: {{path: {created}, type: FileOrCreate}}}}
        - {{name: sock, hostPath: {{path: {tmp_path / "app.sock"}, type: Socket}}}}
        - {{name: devnull, hostPath: {{path: /dev/null, type: CharDevice}}}}
        """), textwrap.dedent("""\
        - {name: src, mountPath: /src}
        - {name: made, mountPath: /made}
        - {name: conf, mountPath: /etc/app.conf}
        - {name: src, mountPath: /ro, readOnly: true}
        - {name: sock, mountPath: /run/app.sock}
        - {name: devnull, mountPath: /host-null}
        """)))
    with listening:
        kubectl.run("apply", "-f", str(manifest))
        kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/dev", "--timeout=60s")
    env = kubectl.env
    exec_out(env, "dev", "sh", "-c", "test -S /run/app.sock && test -c /host-null", namespace=ns)
    assert exec_out(env, "dev", "cat", "/src/app.py", namespace=ns) == "print('v1')\n"
    (src / "app.py").write_text("print('v2')\n")  # the dev loop: edited on the host
    assert exec_out(env, "dev", "cat", "/src/app.py", namespace=ns) == "print('v2')\n"
    exec_out(env, "dev", "sh", "-c", "echo from-pod > /src/out.txt", namespace=ns)
    assert (src / "out.txt").read_text() == "from-pod\n"
    # The kubelet's DirectoryOrCreate (0755) and FileOrCreate (empty, 0644).
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o755
    assert created.is_file() and created.read_bytes() == b""
    assert stat.S_IMODE(created.stat().st_mode) == 0o644
    # readOnly on the mount refuses a write.
    cid = env.container_id("dev", None, ns)
    result = env.docker.containers.get(cid).exec_run(["sh", "-c", "echo x > /ro/nope"])
    assert result.exit_code != 0 and b"Read-only file system" in result.output


def test_missing_file_is_a_clear_error_on_the_pod(kubectl: Kubectl, ns: str,
                                                  tmp_path: Path) -> None:
    missing = tmp_path / "settings.json"
    manifest = write(tmp_path, "pod.yaml", _pod(
        "needs-file", ns, f"- {{name: settings, hostPath: {{path: {missing}, type: File}}}}\n",
        "- {name: settings, mountPath: /etc/settings.json}\n"))
    kubectl.run("apply", "-f", str(manifest))  # kubectl: no check on this side
    waiting = wait_for(lambda: _waiting(kubectl, ns, "needs-file").get("message"),
                       timeout=30, what="the pod's waiting message")
    state = _waiting(kubectl, ns, "needs-file")
    assert state["reason"] == "CreateContainerConfigError"
    assert f"hostPath type check failed: {missing} is not a file" in waiting
    assert 'volume "settings"' in waiting and "FileOrCreate" in waiting
    events = kubectl.json("get", "events", "-n", ns, "-o", "json")["items"]
    assert any(e["reason"] == "FailedMount" and str(missing) in e["message"] for e in events)
    # The file appears: the pod starts without being touched.
    missing.write_text("{}\n")
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/needs-file", "--timeout=60s")
    assert exec_out(kubectl.env, "needs-file", "cat", "/etc/settings.json", namespace=ns) == "{}\n"


def test_apply_refuses_a_missing_directory_with_file_and_line(shared_env: Environment,
                                                              tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    manifest = write(tmp_path, "pod.yaml", _pod(
        "no-src", "default", f"- name: src\n  hostPath: {{path: {missing}, type: Directory}}\n",
        "- {name: src, mountPath: /src}\n"))
    result = localsvc(shared_env, "apply", "-f", str(manifest), check=False)
    assert result.returncode != 0
    assert (f"{manifest}:14: Pod/no-src: spec.volumes[0].hostPath.path: hostPath type check "
            f"failed: {missing} is not a directory") in result.stderr
    assert "create the directory, or use type DirectoryOrCreate" in result.stderr
    names = json.loads(localsvc(shared_env, "get", "pods", "-o", "json").stdout or "{}")
    assert "no-src" not in json.dumps(names)
