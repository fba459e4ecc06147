"""The official Kubernetes object schemas, for the scripts that generate localsvc's data files.

They come from the `kubernetes-validate` package on PyPI, which ships, per Kubernetes version,
the definitions of the API server's OpenAPI document (descriptions, `x-kubernetes-*` extensions
such as the patch merge keys and group-version-kinds included) as JSON Schema `$defs`. The wheel
is downloaded with `pip download` into a temporary directory: it is never installed, and never a
dependency of localsvc. Used by scripts/update-field-schemas, scripts/update-openapi and
scripts/update-patch-meta.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PACKAGE_VERSION = "1.37.0"  # kubernetes-validate
KUBERNETES = "1.32.0"  # the Kubernetes version whose schemas localsvc serves and checks


def definition_name(group: str, version: str, kind: str) -> str:
    """The schemas' name of a kind: io.k8s.api.<package>.<version>.<Kind> ("core" for the
    core group, the group's first label otherwise: apps, networking, discovery)."""
    package = "core" if group == "" else group.removesuffix(".k8s.io").split(".")[0]
    return f"io.k8s.api.{package}.{version}.{kind}"


def download(package_version: str, into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         f"kubernetes-validate=={package_version}", "-d", str(into)],
        check=True,
        timeout=600,
    )
    wheels = sorted(into.glob("kubernetes_validate-*.whl"))
    if not wheels:
        sys.exit(f"pip download left no kubernetes_validate wheel in {into}")
    return wheels[0]


def read_definitions(wheel: Path, kubernetes: str, strict: bool = True) -> dict[str, Any]:
    """The `$defs` of one Kubernetes version; `strict`: the variant whose objects have
    `additionalProperties: false` (unknown fields are errors)."""
    variant = "-local-strict" if strict else "-local"
    member = f"kubernetes_validate/kubernetes-json-schema/v{kubernetes}{variant}/_definitions.json"
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = json.loads(archive.read(member))
        except KeyError:
            sys.exit(f"{wheel.name} has no schemas for Kubernetes {kubernetes} ({member})")
    definitions: dict[str, Any] = data["$defs"]
    return definitions


def definitions(package_version: str = PACKAGE_VERSION, kubernetes: str = KUBERNETES,
                strict: bool = True) -> dict[str, Any]:
    """Download the package and read one version's definitions."""
    with tempfile.TemporaryDirectory(prefix="localsvc-schemas-") as tmp:
        return read_definitions(download(package_version, Path(tmp)), kubernetes, strict)
