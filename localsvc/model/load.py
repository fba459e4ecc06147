"""Reading manifest files into `Manifest` objects that remember the line of every field.

This module owns finding files (directories, extensions), YAML/JSON parsing, flattening
`kind: List`, and sorting objects into runnable, skipped and broken. It reports problems as
`Problem` values and never raises for bad input; it does not judge field values (validate.py
does). Paths inside an object are written `spec.ports[0].name`; a mapping key that is not a plain
word (letters, digits, '_', '-') is written in brackets: `metadata.labels[app.kubernetes.io/name]`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from localsvc.errors import Problem

SUPPORTED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Endpoints"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
    }
)
NAMESPACED: frozenset[str] = frozenset(kind for _, kind in SUPPORTED_KINDS) - {"Namespace"}
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
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def child_path(parent: str, key: str | int) -> str:
    """The path of `key` (a mapping key or a list index) under `parent`: `a.b`, `a[0]`, `a[x.y]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{key}]"


def parent_path(path: str) -> str:
    """The path one level up: `a.b[0]` -> `a.b`, `a.b` -> `a`, `a` -> `` (the object itself)."""
    if path.endswith("]"):
        return path[: path.rfind("[")]
    return path[: path.rfind(".")] if "." in path else ""


@dataclass(frozen=True, order=True)
class ObjectKey:
    """What identifies an object: kind, namespace ("" for Namespace objects) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if not self.namespace:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"


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


def load_paths(paths: Sequence[str | Path]) -> LoadResult:
    """Load files and directories (recursively: .yaml, .yml, .json, not hidden), in order."""
    result = LoadResult()
    for given in paths:
        text = str(given)
        if os.path.isdir(text):
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


def _load_file(file: str) -> LoadResult:
    try:
        data = Path(file).read_bytes()
    except FileNotFoundError:
        return LoadResult(problems=[_problem(file, None, "no such file or directory")])
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return LoadResult(problems=[_problem(file, None, f"cannot read the file: {reason}")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return LoadResult(problems=[_problem(file, line, "not UTF-8 text")])
    return load_text(text, file)


def _problem(
    file: str, line: int | None, message: str, kind: str = "", name: str = "", path: str = ""
) -> Problem:
    return Problem(file=file, line=line, kind=kind, name=name, path=path, message=message)


# ---------------------------------------------------------------- YAML


def load_text(text: str, file: str) -> LoadResult:
    """Load the objects in one YAML (or JSON) text; `file` names it in lines and problems."""
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        return LoadResult(problems=[_syntax_problem(file, exc)])
    except yaml.YAMLError as exc:
        return LoadResult(problems=[_problem(file, None, str(exc))])
    result = LoadResult()
    for node in documents:
        if node is None or _is_empty(node):
            continue
        builder = _Builder(file)
        value = builder.build(node, "")
        result.problems.extend(builder.problems)
        _sort_object(value, node.start_mark.line + 1, builder.lines, "", file, result)
    return result


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return _problem(file, None, message)
    return _problem(file, mark.line + 1, f"{message} (column {mark.column + 1})")


class _Builder:
    """Builds plain Python values from a YAML node tree, recording the line of every path."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def build(self, node: Node, path: str) -> Any:
        if id(node) in self._active:
            self._add(node, path, "an alias refers to the node that contains it (a cycle)")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _add(self, node: Node, path: str, message: str) -> None:
        self.problems.append(_problem(self.file, node.start_mark.line + 1, message, path=path))

    def _scalar(self, node: Node, path: str) -> Any:
        if node.tag not in _PLAIN_TAGS:  # timestamps, !!binary, custom tags: keep the text
            return str(node.value)
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self._add(node, path, exc.problem or str(exc))
            return str(node.value)

    def _sequence(self, node: SequenceNode, path: str) -> list[Any]:
        items: list[Any] = []
        for index, child in enumerate(node.value):
            child_at = child_path(path, index)
            self.lines[child_at] = child.start_mark.line + 1
            items.append(self.build(child, child_at))
        return items

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        pairs = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:  # merged keys first: written keys override them
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node, path)
        seen: dict[str, int] = {}
        for key_node, value_node in pairs:
            if not isinstance(key_node, ScalarNode):
                self._add(key_node, path, "mapping keys must be strings")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            key_path = child_path(path, key)
            if key in seen:
                self._add(
                    key_node, key_path, f'mapping key "{key}" already defined at line {seen[key]}'
                )
            seen[key] = line
            self.lines[key_path] = line
            result[key] = self.build(value_node, key_path)
        return result

    def _merge(self, result: dict[str, Any], source: Node, path: str) -> None:
        """YAML merge keys (`<<: *defaults`); a later merge source does not override earlier."""
        sources = source.value if isinstance(source, SequenceNode) else [source]
        for item in sources:
            if not isinstance(item, MappingNode):
                self._add(item, path, "a merge key (<<) must refer to a mapping")
                continue
            for key, value in self.build(item, path).items():
                result.setdefault(key, value)


# ---------------------------------------------------------------- objects


def _sort_object(
    value: Any, line: int, lines: dict[str, int], prefix: str, file: str, result: LoadResult
) -> None:
    """File one document (or List item) under manifests, skipped or problems."""
    if not isinstance(value, dict):
        what = "a list" if isinstance(value, list) else f"a {type(value).__name__} value"
        result.problems.append(
            _problem(
                file, line, f"a manifest must be a mapping with apiVersion and kind (got {what})"
            )
        )
        return
    sub_lines = _relative_lines(lines, prefix)
    manifest = Manifest(obj=value, file=file, line=line, lines=sub_lines)
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
        _flatten_list(manifest, lines, prefix, result)
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


def _flatten_list(
    manifest: Manifest, lines: dict[str, int], prefix: str, result: LoadResult
) -> None:
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
    for index, item in enumerate(items):
        item_prefix = child_path(child_path(prefix, "items"), index)
        item_line = lines.get(item_prefix, manifest.line)
        _sort_object(item, item_line, lines, item_prefix, manifest.file, result)


def _relative_lines(lines: dict[str, int], prefix: str) -> dict[str, int]:
    """The lines under `prefix`, with paths made relative to it."""
    if not prefix:
        return lines
    out: dict[str, int] = {}
    for path, line in lines.items():
        if path.startswith(prefix) and len(path) > len(prefix):
            rest = path[len(prefix) :]
            if rest.startswith("."):
                out[rest[1:]] = line
            elif rest.startswith("["):
                out[rest] = line
    return out
