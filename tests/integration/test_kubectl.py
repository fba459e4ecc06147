"""kubectl v1.32 with default flags against a real environment (issue 12, "Must work with
kubectl"): one environment for the module, each test in its own namespace so none sees
another's objects. The reference is what the same commands print against a cluster."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import DEMO_IMAGE, wait_for, write
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    DATA, EXAMPLE, FLIPPER, Kubectl, apply_example, demo_v2, kubectl, ns, rows, shared_env)


def ready_pods(kubectl: Kubectl, ns: str, selector: str = "app=backend") -> list[str]:
    pods = kubectl.json("get", "pods", "-n", ns, "-l", selector)["items"]
    return sorted(p["metadata"]["name"] for p in pods
                  if "deletionTimestamp" not in p["metadata"]
                  and any(c["type"] == "Ready" and c["status"] == "True"
                          for c in p["status"].get("conditions") or []))


def rollout_status(kubectl: Kubectl, ns: str) -> str:
    return kubectl.out("rollout", "status", "-n", ns, "deploy/backend", "--timeout=60s",
                       request_timeout=None, timeout=70)


def test_get_nodes_and_namespaces(kubectl: Kubectl) -> None:
    table = rows(kubectl.out("get", "nodes,ns"))
    assert table[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    node = table[1]
    assert node[0] == "node/localsvc" and node[1] == "Ready" and node[4].startswith("v1.32.")
    namespaces = {r[0]: r[1] for r in table[3:]}
    assert table[2] == ["NAME", "STATUS", "AGE"]
    for name in ("default", "kube-system", "kube-public"):
        assert namespaces[f"namespace/{name}"] == "Active", namespaces


def test_apply_the_example_twice_then_list_it(kubectl: Kubectl, ns: str) -> None:
    first = kubectl.out("apply", "-n", ns, "-f", str(EXAMPLE))
    assert first.splitlines() == ["deployment.apps/backend created",
                                  "service/backend-service created", "pod/client created"]
    second = kubectl.out("apply", "-n", ns, "-f", str(EXAMPLE))
    assert second.splitlines() == ["deployment.apps/backend unchanged",
                                   "service/backend-service unchanged", "pod/client unchanged"]
    apply_example(kubectl, ns)

    wide = rows(kubectl.out("get", "pods", "-n", ns, "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES"]
    assert len(wide) == 5
    for row in wide[1:]:
        assert row[1:4] == ["1/1", "Running", "0"], row
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", row[5]) and row[6] == "localsvc", row
        assert row[7:] == ["<none>", "<none>"], row

    services = rows(kubectl.out("get", "svc", "-A"))
    assert services[0] == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                           "AGE"]
    by_name = {(r[0], r[1]): r for r in services[1:]}
    assert by_name[(ns, "backend-service")][2:6] == [
        "ClusterIP", by_name[(ns, "backend-service")][3], "<none>", "80/TCP"]
    assert by_name[("kube-system", "kube-dns")][5] == "53/UDP,53/TCP"

    ips = kubectl.out("get", "pods", "-n", ns, "-l", "app=backend", "-o",
                      "jsonpath={.items[*].status.podIP}").split()
    assert len(ips) == 3
    # One API: localsvc sees the pods kubectl created, with the same IPs.
    assert sorted(ips) == sorted(p["status"]["podIP"] for p in kubectl.env.get("pods", namespace=ns)
                                 if p["metadata"]["name"].startswith("backend-"))

    # Field selectors and paging (limit/continue) as kubectl sends them.
    running = kubectl.out("get", "pods", "-n", ns, "-o", "name", "--field-selector",
                          "status.phase=Running,spec.nodeName=localsvc").split()
    assert len(running) == 4 and "pod/client" in running
    assert kubectl.out("get", "pods", "-n", ns, "-o", "name", "--chunk-size=1").split() == \
        kubectl.out("get", "pods", "-n", ns, "-o", "name").split()

    listing = kubectl.out("get", "deploy,rs,ep,endpointslices", "-n", ns)
    blocks = [rows(block) for block in listing.strip().split("\n\n")]
    assert [b[0][0] for b in blocks] == ["NAME"] * 4, listing
    deploy, rs, ep, slices = (b[1] for b in blocks)
    assert deploy[:4] == ["deployment.apps/backend", "3/3", "3", "3"], listing
    assert re.fullmatch(r"replicaset\.apps/backend-[a-z0-9]+", rs[0]) and rs[1:4] == ["3"] * 3
    assert ep[0] == "endpoints/backend-service"
    assert sorted(ep[1].split(",")) == sorted(f"{ip}:80" for ip in ips)
    assert slices[0].startswith("endpointslice.discovery.k8s.io/backend-service-")
    assert slices[1:3] == ["IPv4", "80"] and sorted(slices[3].split(",")) == sorted(ips)


def test_apply_removes_what_the_manifest_no_longer_has(kubectl: Kubectl, ns: str,
                                                      tmp_path: Path) -> None:
    """kubectl apply's three-way merge: fields dropped from the manifest since the last apply
    (a label, a list item merged by key, a probe) are removed; others' fields stay."""
    manifest = (EXAMPLE / "backend.yaml").read_text()
    kubectl.run("apply", "-n", ns, "-f", str(EXAMPLE / "backend.yaml"))
    kubectl.run("annotate", "-n", ns, "deploy/backend", "owner=someone-else")
    probe = manifest[manifest.index("          readinessProbe:"):manifest.index("---")]
    env = manifest[manifest.index("          env:\n"):manifest.index("          ports:")]
    smaller = manifest.replace(probe, "").replace(env, "").replace(
        "  labels:\n    app: backend\nspec:", "spec:", 1)
    out = kubectl.out("apply", "-n", ns, "-f", str(write(tmp_path, "backend.yaml", smaller)))
    assert out.splitlines() == ["deployment.apps/backend configured",
                                "service/backend-service unchanged"]
    live = kubectl.json("get", "deploy", "backend", "-n", ns)
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert "labels" not in live["metadata"], live["metadata"]
    assert "env" not in container and "readinessProbe" not in container, container
    assert live["metadata"]["annotations"]["owner"] == "someone-else"


def test_apply_of_a_typo_is_rejected_naming_the_field(kubectl: Kubectl, ns: str) -> None:
    result = kubectl.run("apply", "-n", ns, "-f", str(DATA / "typo.yaml"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{DATA / "typo.yaml"}": Pod in '
        'version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].imagePulPolicy"'), result.stderr
    assert kubectl.json("get", "pods", "-n", ns)["items"] == []


def test_apply_of_a_typo_with_validate_warn_or_false(kubectl: Kubectl, ns: str) -> None:
    """fieldValidation=Warn: created, with the API server's Warning header, which kubectl
    prints; =Ignore (--validate=false): created silently."""
    warned = kubectl.run("apply", "--validate=warn", "-n", ns, "-f", str(DATA / "typo.yaml"))
    assert warned.stdout == "pod/typo created\n"
    assert warned.stderr == 'Warning: unknown field "spec.containers[0].imagePulPolicy"\n'
    quiet = kubectl.run("apply", "--validate=false", "-n", ns, "-f", "-",
                        stdin=(DATA / "typo.yaml").read_text().replace("name: typo", "name: quiet"))
    assert (quiet.stdout, quiet.stderr) == ("pod/quiet created\n", "")
    names = kubectl.out("get", "pods", "-n", ns, "-o", "name").split()
    assert sorted(names) == ["pod/quiet", "pod/typo"]


CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{a: "{a}"}}
"""


def test_server_side_apply_and_a_conflict_between_managers(kubectl: Kubectl, ns: str,
                                                           tmp_path: Path) -> None:
    mine = write(tmp_path, "mine.yaml", CONFIG.format(a="1"))
    theirs = write(tmp_path, "theirs.yaml", CONFIG.format(a="2"))
    assert kubectl.out("apply", "--server-side", "-n", ns, "-f", str(mine)) == \
        "configmap/settings serverside-applied\n"
    conflict = kubectl.run("apply", "--server-side", "--field-manager=other", "-n", ns,
                           "-f", str(theirs), check=False)
    assert conflict.returncode == 1
    assert conflict.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl": .data.a'), conflict.stderr
    assert kubectl.json("get", "cm", "settings", "-n", ns)["data"] == {"a": "1"}
    kubectl.run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n", ns,
                "-f", str(theirs))
    live = kubectl.json("get", "cm", "settings", "-n", ns, "--show-managed-fields")
    assert live["data"] == {"a": "2"}
    owners = {e["manager"]: e for e in live["metadata"]["managedFields"]}
    assert owners["other"]["operation"] == "Apply"
    assert owners["other"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert "f:a" not in json.dumps(owners.get("kubectl", {}))


def test_diff_is_a_dry_run_on_the_server(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.run("apply", "-n", ns, "-f", str(EXAMPLE / "backend.yaml"))
    same = kubectl.run("diff", "-n", ns, "-f", str(EXAMPLE / "backend.yaml"), check=False)
    assert (same.returncode, same.stdout) == (0, ""), same.stderr
    changed = write(tmp_path, "backend.yaml",
                    (EXAMPLE / "backend.yaml").read_text().replace("replicas: 3", "replicas: 4"))
    diff = kubectl.run("diff", "-n", ns, "-f", str(changed), check=False)
    assert diff.returncode == 1, diff.stderr
    edits = [line for line in diff.stdout.splitlines()
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    # As against a cluster: the server's dry run bumps generation, keeps uid and timestamps.
    assert edits == ["-  generation: 1", "+  generation: 2",
                     "-  replicas: 3", "+  replicas: 4"], diff.stdout
    assert kubectl.json("get", "deploy", "backend", "-n", ns)["spec"]["replicas"] == 3


def test_scale_and_rollout_status(kubectl: Kubectl, ns: str) -> None:
    apply_example(kubectl, ns)
    assert kubectl.out("scale", "-n", ns, "deploy/backend", "--replicas=5") == \
        "deployment.apps/backend scaled\n"
    assert rollout_status(kubectl, ns).endswith('deployment "backend" successfully rolled out\n')
    assert len(ready_pods(kubectl, ns)) == 5


def test_set_image_undo_and_restart(kubectl: Kubectl, ns: str, demo_v2: str) -> None:
    apply_example(kubectl, ns)
    # Every new pod at once: three rollouts stay well within the test's time (not a revision:
    # the strategy is outside the pod template).
    kubectl.run("patch", "-n", ns, "deploy/backend", "-p",
                '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"100%"}}}}')

    def image() -> str:
        return kubectl.out("get", "deploy/backend", "-n", ns, "-o",
                           "jsonpath={.spec.template.spec.containers[0].image}")

    assert kubectl.out("set", "image", "-n", ns, "deploy/backend", f"backend={demo_v2}") == \
        "deployment.apps/backend image updated\n"
    assert "successfully rolled out" in rollout_status(kubectl, ns)
    assert image() == demo_v2
    assert kubectl.out("rollout", "undo", "-n", ns, "deploy/backend") == \
        "deployment.apps/backend rolled back\n"
    assert "successfully rolled out" in rollout_status(kubectl, ns)
    assert image() == DEMO_IMAGE
    history = rows(kubectl.out("rollout", "history", "-n", ns, "deploy/backend"))
    assert history[1:] == [["REVISION", "CHANGE-CAUSE"], ["2", "<none>"], ["3", "<none>"]]
    assert kubectl.out("rollout", "restart", "-n", ns, "deploy/backend") == \
        "deployment.apps/backend restarted\n"
    assert "successfully rolled out" in rollout_status(kubectl, ns)
    template = kubectl.json("get", "deploy/backend", "-n", ns)["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    pods = kubectl.json("get", "pods", "-n", ns, "-l", "app=backend")["items"]
    live = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
    assert len(live) == 3 and all(
        "kubectl.kubernetes.io/restartedAt" in p["metadata"]["annotations"] for p in live)


def test_wait_for_ready_pods(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", str(EXAMPLE))
    out = kubectl.out("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", "app=backend",
                      "--timeout=60s", request_timeout=None, timeout=70)
    lines = out.splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"pod/backend-\S+ condition met", x) for x in lines)
    assert len(ready_pods(kubectl, ns)) == 3


def test_get_pods_watch_sees_a_scale_up(kubectl: Kubectl, ns: str) -> None:
    apply_example(kubectl, ns)
    before = set(ready_pods(kubectl, ns))
    watch = kubectl.stream("get", "pods", "-w", "-n", ns, "-l", "app=backend",
                           request_timeout="40s")
    try:
        watch.until(lambda seen: len(seen) >= 4, 15, "the header and the three pods")
        kubectl.run("scale", "-n", ns, "deploy/backend", "--replicas=5")

        def new_ready(seen: list[str]) -> set[str]:
            return {r[0] for r in map(str.split, seen[1:])
                    if r[0] not in before and r[1] == "1/1" and r[2] == "Running"}

        seen = watch.until(lambda seen: len(new_ready(seen)) == 2, 40, "two new Ready pods")
    finally:
        watch.stop()
    assert seen[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert new_ready(seen) == set(ready_pods(kubectl, ns)) - before


def test_label_annotate_and_patch_three_ways(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.run("apply", "-n", ns, "-f", str(write(tmp_path, "cm.yaml", CONFIG.format(a="1"))))
    assert kubectl.out("label", "-n", ns, "cm", "settings", "team=blue") == \
        "configmap/settings labeled\n"
    assert kubectl.out("annotate", "-n", ns, "cm", "settings", "note=hi") == \
        "configmap/settings annotated\n"
    for kind, patch in (("merge", '{"data":{"m":"1"}}'),
                        ("json", '[{"op":"add","path":"/data/j","value":"2"}]'),
                        ("strategic", '{"data":{"s":"3"}}')):
        assert kubectl.out("patch", "-n", ns, "cm", "settings", f"--type={kind}", "-p", patch) == \
            "configmap/settings patched\n"
    live = kubectl.json("get", "cm", "settings", "-n", ns)
    assert live["data"] == {"a": "1", "m": "1", "j": "2", "s": "3"}
    assert live["metadata"]["labels"] == {"team": "blue"}
    assert live["metadata"]["annotations"]["note"] == "hi"
    # A strategic merge patch merges container env by its merge key (name), not replacing it.
    kubectl.run("apply", "-n", ns, "-f", str(EXAMPLE / "backend.yaml"))
    kubectl.run("patch", "-n", ns, "deploy", "backend", "-p", json.dumps({"spec": {"template": {
        "spec": {"containers": [{"name": "backend", "env": [{"name": "EXTRA", "value": "1"}]}]}}}}))
    containers = kubectl.json("get", "deploy", "backend", "-n", ns)["spec"]["template"]["spec"][
        "containers"]
    assert len(containers) == 1 and containers[0]["image"] == DEMO_IMAGE
    assert sorted(e["name"] for e in containers[0]["env"]) == ["EXTRA", "POD_NAME"]


def test_edit_with_an_editor_script(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    kubectl.run("apply", "-n", ns, "-f", str(write(tmp_path, "cm.yaml", CONFIG.format(a="1"))))
    editor = write(tmp_path, "editor.py", "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                   "p.write_text(p.read_text().replace('a: \"1\"', 'a: edited'))\n")
    command = f"{sys.executable} {editor}"
    assert kubectl.out("edit", "-n", ns, "cm", "settings", EDITOR=command) == \
        "configmap/settings edited\n"
    assert kubectl.json("get", "cm", "settings", "-n", ns)["data"] == {"a": "edited"}
    again = kubectl.run("edit", "-n", ns, "cm", "settings", EDITOR=command)
    assert "Edit cancelled, no changes made." in again.stdout + again.stderr


def test_delete_by_label_and_by_file(kubectl: Kubectl, ns: str) -> None:
    apply_example(kubectl, ns)
    before = set(ready_pods(kubectl, ns))
    out = kubectl.out("delete", "-n", ns, "pods", "-l", "app=backend", timeout=90)
    assert sorted(out.splitlines()) == sorted(f'pod "{name}" deleted' for name in before)
    # The ReplicaSet replaces them with new pods.
    wait_for(lambda: len(set(ready_pods(kubectl, ns)) - before) == 3, timeout=40,
             what="three replacement pods Ready")
    out = kubectl.out("delete", "-n", ns, "-f", str(EXAMPLE), timeout=90)
    assert out.splitlines() == ['deployment.apps "backend" deleted',
                                'service "backend-service" deleted', 'pod "client" deleted']
    wait_for(lambda: kubectl.json("get", "pods", "-n", ns)["items"] == [], timeout=30,
             what="every pod gone")
    assert kubectl.json("get", "deploy,rs,svc", "-n", ns)["items"] == []


def test_explain_deployment_replicas(kubectl: Kubectl) -> None:
    out = kubectl.out("explain", "deployment.spec.replicas")
    assert out.splitlines()[:3] == ["GROUP:      apps", "KIND:       Deployment",
                                    "VERSION:    v1"]
    assert "FIELD: replicas <integer>" in out
    assert "Number of desired pods." in out


def staged(tmp_path: Path, namespace: str) -> Path:
    """The overlay of data/kubectl, put into `namespace` by one more kustomization (a
    kustomization refers to its bases by relative paths only)."""
    shutil.copytree(DATA, tmp_path / "kustomize")
    write(tmp_path / "kustomize", "kustomization.yaml",
          f"namespace: {namespace}\nresources:\n  - overlay\n")
    return tmp_path / "kustomize"


def test_apply_k_an_overlay(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    out = kubectl.out("apply", "-k", str(staged(tmp_path, ns)))
    assert out.splitlines() == ["configmap/staging-settings created",
                                "service/staging-web created"]
    settings = kubectl.json("get", "cm", "staging-settings", "-n", ns)
    assert settings["data"] == {"mode": "staging"}
    assert settings["metadata"]["labels"] == {"env": "staging"}
    web = kubectl.json("get", "svc", "staging-web", "-n", ns)
    assert web["spec"]["selector"] == {"app": "web", "env": "staging"}
    assert kubectl.out("apply", "-k", str(tmp_path / "kustomize")).splitlines() == [
        "configmap/staging-settings unchanged", "service/staging-web unchanged"]


def test_kustomize_piped_into_localsvc_apply(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    built = kubectl.out("kustomize", str(staged(tmp_path, ns)))
    result = subprocess.run([sys.executable, "-m", "localsvc", "apply", "-f", "-"],
                            input=built, capture_output=True, text=True, timeout=120,
                            env=kubectl.environ(LOCALSVC_ENV=kubectl.env.name, NO_COLOR="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    # One API: kubectl sees what localsvc applied.
    assert kubectl.json("get", "cm", "staging-settings", "-n", ns)["data"] == {"mode": "staging"}
    names = kubectl.out("get", "cm,svc", "-n", ns, "-l", "env=staging", "-o", "name")
    assert names.splitlines() == ["configmap/staging-settings", "service/staging-web"]




def test_get_pods_watch_shows_readiness_flipping(kubectl: Kubectl, ns: str,
                                                 tmp_path: Path) -> None:
    kubectl.run("apply", "-n", ns, "-f", str(write(tmp_path, "flipper.yaml", FLIPPER)))
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/flipper", "--timeout=60s",
                request_timeout=None, timeout=70)
    # The probe's file is flipped from outside (kubectl exec is the next issue).
    container = kubectl.env.docker.containers.get(kubectl.env.container_id("flipper", None, ns))
    watch = kubectl.stream("get", "pods", "-w", "-n", ns, request_timeout="40s")

    def states(seen: list[str]) -> list[str]:
        return [" ".join(r[1:3]) for r in map(str.split, seen[1:]) if r[0] == "flipper"]

    try:
        watch.until(lambda seen: states(seen) == ["1/1 Running"], 15, "the Ready pod")
        assert container.exec_run(["rm", "/tmp/ready"]).exit_code == 0
        watch.until(lambda seen: states(seen)[-1:] == ["0/1 Running"], 15, "the pod unready")
        assert container.exec_run(["touch", "/tmp/ready"]).exit_code == 0
        seen = watch.until(lambda seen: states(seen)[-1:] == ["1/1 Running"], 15,
                           "the pod ready again")
    finally:
        watch.stop()
    # Each state once, in order: no duplicate lines for one change.
    assert [s for i, s in enumerate(states(seen)) if i == 0 or states(seen)[i - 1] != s] == \
        ["1/1 Running", "0/1 Running", "1/1 Running"], seen


