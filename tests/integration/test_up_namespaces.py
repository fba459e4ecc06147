"""`apply`'s warning for a namespace that objects use and no manifest declares: given while
the environment does not have it yet (localsvc creates it), not once it exists, never for the
built-in ones. The environment's Namespaces are read only when some manifest uses an
undeclared one."""

from __future__ import annotations

from pathlib import Path

from localsvc.host.api import Environment
from tests.integration.conftest import write

IN_EXTRA = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: extra}
data: {mode: fast}
"""
IN_DEFAULT = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""
WARNING = 'namespace "extra" is used but not declared'


def test_an_undeclared_namespace_is_warned_about_until_it_exists(
        env: Environment, tmp_path: Path) -> None:
    default_only = env.apply([write(tmp_path, "default.yaml", IN_DEFAULT)])
    assert not any("is used but not declared" in w for w in default_only.warnings)
    first = env.apply([write(tmp_path, "extra.yaml", IN_EXTRA)])
    assert any(WARNING in w for w in first.warnings), first.warnings
    assert env.get("configmaps", "settings", "extra")
    again = env.apply([tmp_path / "extra.yaml"])
    assert not any(WARNING in w for w in again.warnings), again.warnings
