"""One API: objects made with kubectl are the objects the localsvc CLI reads (with label
selectors applied by the API), scales and deletes, and what localsvc changes kubectl sees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, localsvc


def test_kubectl_objects_are_read_scaled_and_deleted_by_the_cli(env: Environment,
                                                                  tmp_path: Path) -> None:
    env.ensure()
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(env.kubeconfig()))
    config.chmod(0o600)

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["kubectl", f"--kubeconfig={config}",
                               f"--cache-dir={tmp_path / 'cache'}", "--request-timeout=20s",
                               *args], capture_output=True, text=True, timeout=30)
        assert not check or done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done

    kubectl("create", "configmap", "x", "--from-literal=a=b")
    kubectl("label", "configmap", "x", "tier=db")
    kubectl("create", "deployment", "web", f"--image={DEMO_IMAGE}", "--replicas=1")

    shown = yaml.safe_load(localsvc(env, "get", "cm", "x", "-o", "yaml").stdout)
    assert (shown["kind"], shown["apiVersion"], shown["data"]) == ("ConfigMap", "v1", {"a": "b"})
    assert localsvc(env, "get", "cm", "-l", "tier=db", "-o", "name").stdout.split() == [
        "configmap/x"]
    none = localsvc(env, "get", "cm", "-l", "tier in (web)")
    assert none.stdout == "" and "No resources found in default namespace." in none.stderr

    assert localsvc(env, "scale", "deployment/web", "--replicas", "0").stdout.strip() == \
        "deployment.apps/web scaled"
    assert kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "0"
    missing = localsvc(env, "scale", "deployment/nope", "--replicas", "1", check=False)
    assert missing.returncode == 1
    assert 'deployment "nope" not found in namespace "default"' in missing.stderr
    refused = localsvc(env, "scale", "po/web", "--replicas", "1", check=False)
    assert refused.returncode != 0 and "scale takes deployment/NAME or statefulset/NAME" in \
        refused.stderr
    unknown = localsvc(env, "scale", "dep/web", "--replicas", "1", check=False)
    assert unknown.returncode != 0 and 'unknown resource type "dep"' in unknown.stderr

    assert localsvc(env, "delete", "cm", "x").stdout.strip() == "configmap/x deleted"
    gone = kubectl("get", "configmap", "x", check=False)
    assert gone.returncode == 1 and 'configmaps "x" not found' in gone.stderr
    again = localsvc(env, "delete", "cm", "x", check=False)
    assert again.returncode == 1 and again.stdout.strip() == "configmap/x not found"
    assert env.get("deployments", "web")[0]["spec"]["replicas"] == 0
