"""Reading manifest files into `Manifest` objects that remember the line of every field.

This module owns finding files (directories, extensions), YAML/JSON parsing, flattening
`kind: List`, and sorting objects into runnable, skipped and broken. It reports problems as
`Problem` values and never raises for bad input; it does not judge field values (validate.py
does). Paths inside an object are written `spec.ports[0].name`; a mapping key that is not a plain
word (letters, digits, '_', '-') is written in brackets: `metadata.labels[app.kubernetes.io/name]`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from yaml.nodes import Node, ScalarNode

from localsvc.errors import Problem
from localsvc.model.kubeapi.resources import RESOURCES
from localsvc.model.shown import show
from localsvc.model.yamltext import MAX_TEXT_BYTES, NodeBuilder, YamlTextError, compose, decode
from localsvc.model.yamltext import child_path as child_path  # re-exported: others import it here
from localsvc.model.yamltext import parent_path as parent_path  # re-exported too
from localsvc.model.yamltext import read_text_file, unreadable_message

SUPPORTED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("v1", "Endpoints"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("v1", "PersistentVolumeClaim"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("apps/v1", "DaemonSet"),
    }
)
# Every kind the API serves in a namespace (also those only controllers make: ReplicaSets,
# ControllerRevisions, Events), from the API's resource table.
NAMESPACED: frozenset[str] = frozenset(r.kind for r in RESOURCES if r.namespaced)
_API_VERSION_OF: dict[str, str] = {kind: api for api, kind in SUPPORTED_KINDS}
# Kinds without a namespace among those users commonly put next to their apps (all skipped).
_CLUSTER_SCOPED: frozenset[str] = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
    }
)
MANIFEST_SUFFIXES: frozenset[str] = frozenset({".yaml", ".yml", ".json"})
STDIN_PATH = "-"  # `-f -`: read the manifests from standard input
STDIN_NAME = "<stdin>"  # how problems name standard input


@dataclass(frozen=True, order=True)
class ObjectKey:
    """What identifies an object: kind, namespace ("" for Namespace objects) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        """How messages name the object ("Namespace/web" when cluster-scoped)."""
        if not self.namespace:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def id(self) -> str:
        """The key's one stored form, "Kind/namespace/name" ("Kind//name" cluster-scoped):
        always three parts. It keys the node's tables and state file, its watch events and the
        delete route; parse() reads it (and the message form) back."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def namespaced_name(self) -> str:
        """"namespace/name": the key of a table of one kind (clusterIPs, nodePorts by Service),
        as Kubernetes' cache.MetaNamespaceKeyFunc."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        """The key of "Kind/namespace/name", "Kind//name" or "Kind/name" (cluster-scoped)."""
        kind, _, rest = text.partition("/")
        namespace, sep, name = rest.partition("/")
        return cls(kind, namespace, name) if sep else cls(kind, "", namespace)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        """The key of a stored or given object (namespace "default" when unset; "" for a
        cluster-scoped kind). KeyError when it has no kind or name (a stored object always
        has both)."""
        kind = str(obj["kind"])
        meta = obj.get("metadata") or {}
        namespace = "" if kind not in NAMESPACED else str(meta.get("namespace") or "default")
        return cls(kind, namespace, str(meta["name"]))


@dataclass(frozen=True)
class Manifest:
    """One object as written in a file, with where it (and each of its fields) was written.

    `obj` holds plain JSON-compatible values and must never be mutated.
    """

    obj: dict[str, Any]
    file: str
    line: int
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def api_version(self) -> str:
        value = self.obj.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.obj.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.obj.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def name(self) -> str:
        value = self.metadata.get("name")
        return "" if value is None else str(value)

    @property
    def namespace(self) -> str:
        """metadata.namespace, "default" when unset; "" for cluster-scoped kinds (Namespace)."""
        if self.kind in _CLUSTER_SCOPED:
            return ""
        value = self.metadata.get("namespace")
        return str(value) if value not in (None, "") else "default"

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.namespace, self.name)

    def line_of(self, path: str) -> int:
        """The line of `path`, else of its closest known ancestor, else of the object."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = parent_path(path)
        return self.line


@dataclass(frozen=True)
class LoadResult:
    """Objects read from files: runnable ones, well-formed ones localsvc skips, and problems."""

    manifests: list[Manifest] = field(default_factory=list)
    skipped: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        """Append everything of `other` (used while loading several files)."""
        self.manifests.extend(other.manifests)
        self.skipped.extend(other.skipped)
        self.problems.extend(other.problems)


# ---------------------------------------------------------------- files


class StandardInput:
    """Standard input, read at most once per process (at most MAX_TEXT_BYTES + 1 bytes).

    A command may load `-f -` twice (validate before building, then apply); a pipe gives its
    text only once, so every later read answers the same bytes.
    """

    def __init__(self, stream: BinaryIO | None = None):
        self._stream = stream  # None: sys.stdin, looked up at the first read
        self._data: bytes | None = None

    def read(self) -> bytes:
        """The bytes of the stream; OSError when it cannot be read."""
        if self._data is None:
            stream = self._stream
            if stream is None:
                if sys.stdin is None:
                    raise OSError("standard input is closed")
                stream = sys.stdin.buffer
            self._data = stream.read(MAX_TEXT_BYTES + 1)
        return self._data


STDIN = StandardInput()


def load_paths(paths: Sequence[str | Path], stdin: StandardInput = STDIN) -> LoadResult:
    """Load files and directories (recursively: .yaml, .yml, .json, not hidden), in order.

    "-" reads standard input (named `<stdin>` in problems); it may be given once per call.
    """
    result = LoadResult()
    stdin_given = False
    for given in paths:
        text = str(given)
        if text == STDIN_PATH:
            if stdin_given:
                message = '"-" is given more than once; standard input can be read only once'
                result.problems.append(_problem(STDIN_NAME, None, message))
            else:
                result.extend(_load_stdin(stdin))
            stdin_given = True
        elif os.path.isdir(text):
            files = find_manifest_files(text)
            if not files:
                result.problems.append(
                    _problem(text, None, "no .yaml, .yml or .json files in this directory")
                )
            for file in files:
                result.extend(_load_file(file))
        else:
            result.extend(_load_file(text))
    return result


def find_manifest_files(directory: str) -> list[str]:
    """Manifest files under `directory`, sorted, skipping hidden files and directories."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in MANIFEST_SUFFIXES:
                found.append(os.path.join(root, name))
    return found


def _load_stdin(stdin: StandardInput) -> LoadResult:
    try:
        data = stdin.read()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return LoadResult(problems=[_problem(STDIN_NAME, None, f"cannot read it: {reason}")])
    return _load_bytes(data, STDIN_NAME)


def _load_file(file: str) -> LoadResult:
    try:
        text = read_text_file(file)
    except FileNotFoundError:
        return LoadResult(problems=[_problem(file, None, "no such file or directory")])
    except YamlTextError as exc:
        return LoadResult(problems=[_problem(file, exc.line, exc.message)])
    except OSError as exc:
        return LoadResult(problems=[_problem(file, None, unreadable_message(exc))])
    return load_text(text, file)


def _load_bytes(data: bytes, file: str) -> LoadResult:
    try:
        text = decode(data)
    except YamlTextError as exc:
        return LoadResult(problems=[_problem(file, exc.line, exc.message)])
    return load_text(text, file)


def _problem(
    file: str, line: int | None, message: str, kind: str = "", name: str = "", path: str = ""
) -> Problem:
    return Problem(file=file, line=line, kind=kind, name=name, path=path, message=message)


# ---------------------------------------------------------------- YAML


def load_text(text: str, file: str) -> LoadResult:
    """Load the objects in one YAML (or JSON) text; `file` names it in lines and problems."""
    try:
        composed = compose(text)
    except YamlTextError as exc:
        return LoadResult(problems=[_problem(file, exc.line, exc.message)])
    result = LoadResult()
    for node in composed.documents:
        if _is_empty(node):
            continue
        builder = NodeBuilder(file, composed)
        value = builder.build(node, "")
        result.problems.extend(builder.problems)
        _sort_object(value, node.start_mark.line + 1, builder.lines, file, result)
    return result


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


# ---------------------------------------------------------------- objects


def _sort_object(
    value: Any, line: int, lines: dict[str, int], file: str, result: LoadResult
) -> None:
    """File one document (or List item) under manifests, skipped or problems (`lines`: the
    lines of its paths)."""
    if not isinstance(value, dict):
        result.problems.append(
            _problem(file, line, "a manifest must be a mapping with apiVersion and kind "
                     f"(got {show(value)})")
        )
        return
    manifest = Manifest(obj=value, file=file, line=line, lines=lines)
    missing = [
        k for k in ("apiVersion", "kind") if not isinstance(value.get(k), str) or not value.get(k)
    ]
    if missing:
        for name in missing:
            message = "required" if value.get(name) in (None, "") else "must be a string"
            result.problems.append(
                _problem(file, manifest.line_of(name), message, manifest.kind, manifest.name, name)
            )
        return
    if manifest.kind == "List":
        _flatten_list(manifest, result)
    elif (manifest.api_version, manifest.kind) in SUPPORTED_KINDS:
        result.manifests.append(manifest)
    elif manifest.kind in _API_VERSION_OF:
        expected = _API_VERSION_OF[manifest.kind]
        result.problems.append(
            _problem(
                file,
                manifest.line_of("apiVersion"),
                f'"{manifest.api_version}" is not served for {manifest.kind}; use {expected}',
                manifest.kind,
                manifest.name,
                "apiVersion",
            )
        )
    else:
        result.skipped.append(manifest)


def _flatten_list(manifest: Manifest, result: LoadResult) -> None:
    items = manifest.obj.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        result.problems.append(
            _problem(
                manifest.file,
                manifest.line_of("items"),
                "must be a list",
                "List",
                manifest.name,
                "items",
            )
        )
        return
    item_lines = _lines_by_item(manifest.lines)
    for index, item in enumerate(items):
        lines = item_lines.get(index, {})
        item_line = lines.pop("", manifest.line)
        _sort_object(item, item_line, lines, manifest.file, result)


def _lines_by_item(lines: Mapping[str, int]) -> dict[int, dict[str, int]]:
    """A List's lines split by item in one pass, each item's paths made relative to it (its own
    line under ""): a List of thousands of objects must not rescan every line per item."""
    out: dict[int, dict[str, int]] = {}
    for path, line in lines.items():
        if not path.startswith("items["):
            continue
        close = path.find("]")
        index = path[len("items[") : close]
        rest = path[close + 1 :]
        if not index.isdigit() or (rest and rest[0] not in ".["):
            continue
        out.setdefault(int(index), {})[rest.removeprefix(".")] = line
    return out
