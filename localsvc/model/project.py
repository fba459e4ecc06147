"""The project file `localsvc.yaml`: finding it, reading it and validating it into a `Project`.

This module owns the schema of the project file (environment, manifests, host address, cluster
domain and the images to build, with their sync rules) and the questions asked of it later ("which
image does this changed file belong to?"). Its only I/O is reading the file and checking that the
paths it names exist; it never builds, runs or watches anything. Every problem is reported at once
in one `ManifestError`, each with the line of the offending key and a hint on how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from localsvc.errors import ManifestError, Problem
from localsvc.model.load import child_path, parent_path
from localsvc.model.names import dns1123_label_error, dns1123_subdomain_error, sanitize_name

PROJECT_FILE = "localsvc.yaml"
KIND = ""  # problems name the file and the field; there is no object kind

TOP_KEYS = ("environment", "manifests", "hostAddress", "clusterDomain", "images")
IMAGE_KEYS = ("name", "context", "dockerfile", "args", "target", "sync")
SYNC_KEYS = ("src", "dest")

_REPO_NAME_MAX = 255
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str")
)


@dataclass(frozen=True)
class SyncRule:
    """Copy files changed under `src` (absolute, inside the context) to `dest` in the container."""

    src: Path
    dest: str

    def dest_for(self, path: Path) -> str:
        """Where a changed `path` under `src` goes in the container."""
        rest = _normal(path).relative_to(self.src)
        return str(PurePosixPath(self.dest, *rest.parts))


@dataclass(frozen=True)
class ImageBuild:
    """One image to build: its name, absolute context, Dockerfile (relative to the context)."""

    name: str
    context: Path
    dockerfile: str
    args: Mapping[str, str] = field(hash=False)
    target: str | None
    sync: tuple[SyncRule, ...]


@dataclass(frozen=True)
class Project:
    """A validated project file; every path in it is absolute and normalized."""

    path: Path
    environment: str | None
    manifests: tuple[Path, ...]
    host_address: str | None
    cluster_domain: str | None
    images: tuple[ImageBuild, ...]

    @property
    def directory(self) -> Path:
        """The directory holding the project file (relative paths in it start here)."""
        return self.path.parent

    @property
    def environment_name(self) -> str:
        """`environment`, else the directory's name made a label (as the API defaults it)."""
        return self.environment or sanitize_name(self.directory.name, max_len=30)

    def image_for(self, path: Path) -> ImageBuild | None:
        """The image whose context contains `path`; the deepest context wins, then the first."""
        target = _normal(path)
        inside = [i for i in self.images if target.is_relative_to(i.context)]
        return max(inside, key=lambda i: len(i.context.parts), default=None)

    def sync_rule_for(self, image: ImageBuild, path: Path) -> SyncRule | None:
        """The sync rule of `image` whose src is or contains `path` (deepest src wins), or None."""
        target = _normal(path)
        inside = [r for r in image.sync if target.is_relative_to(r.src)]
        return max(inside, key=lambda r: len(r.src.parts), default=None)


def find_project(start: Path) -> Path | None:
    """The `localsvc.yaml` in `start` or the nearest of its parents, or None up to the root."""
    here = _normal(start)
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_project(path: Path) -> Project:
    """Read and validate a project file; raise ManifestError listing every problem found."""
    file = _normal(path)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise ManifestError([_bare(file, "no such file")]) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError([_bare(file, "not UTF-8 text")]) from exc
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ManifestError([_bare(file, f"cannot read the file: {reason}")]) from exc
    checker = _Checker(file)
    project = checker.check(text)
    if checker.problems or project is None:
        raise ManifestError(checker.problems)
    return project


def image_reference_error(ref: str) -> str | None:
    """Why `ref` cannot name a built image (`[host[:port]/]path[:tag]`); None when it can."""
    if not ref:
        return "must not be empty"
    if "@" in ref:
        return "a built image cannot be named by digest; use repository[:tag]"
    repo, tag = ref, None
    if ":" in ref.rsplit("/", 1)[-1]:
        repo, tag = ref.rsplit(":", 1)
    if tag is not None and not _TAG.fullmatch(tag):
        return (
            f'tag "{tag}" must be 1 to 128 letters, digits, "_", "." or "-", '
            'not starting with "." or "-"'
        )
    parts = repo.split("/")
    if len(parts) > 1 and _is_registry(parts[0]):
        host, _, port = parts[0].partition(":")
        if not _HOST.fullmatch(host) or (port and not port.isdigit()):
            return f'registry "{parts[0]}" must be a host name with an optional :port'
        parts = parts[1:]
    if len(repo) > _REPO_NAME_MAX:
        return f"repository names must be at most {_REPO_NAME_MAX} characters"
    for part in parts:
        if _PATH_COMPONENT.fullmatch(part):
            continue
        if _PATH_COMPONENT.fullmatch(part.lower()):
            return "repository names must be lowercase"
        return f'"{part}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"'
    return None


def _is_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def _normal(path: Path) -> Path:
    return Path(os.path.normpath(Path(path).absolute()))


def _bare(file: Path, message: str) -> Problem:
    return Problem(file=str(file), line=None, kind=KIND, name="", path="", message=message)


def _closest(key: str, known: tuple[str, ...]) -> str:
    lowered = {k.lower().replace("_", ""): k for k in known}
    match = difflib.get_close_matches(key.lower().replace("_", ""), lowered, n=1, cutoff=0.6)
    if match:
        return f'unknown key; did you mean "{lowered[match[0]]}"?'
    return f"unknown key; the known keys are {', '.join(known)}"


def _type_name(value: Any) -> str:
    """How a parsed YAML value is named in messages: `a list`, `int 5`, `nothing`."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class _Checker:
    """Parses the text with the line of every path, then checks each setting."""

    def __init__(self, file: Path):
        self.file = file
        self.base = file.parent
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}
        self._constructor = SafeConstructor()

    # ------------------------------------------------------------ reporting

    def add(self, path: str, message: str, line: int | None = None) -> None:
        """Record a problem at `path`, on the line of the path or of its closest ancestor."""
        at = path
        while at and line is None:
            line = self.lines.get(at)
            at = parent_path(at)
        self.problems.append(
            Problem(file=str(self.file), line=line, kind=KIND, name="", path=path, message=message)
        )

    @property
    def where(self) -> str:
        return f"(relative to {self.file})"

    # ------------------------------------------------------------ YAML

    def check(self, text: str) -> Project | None:
        """The project in `text`, or None when it is not even a mapping (problems say why)."""
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = f"YAML syntax: {exc.problem or exc.context or 'invalid YAML'}"
            if mark is None:
                self.add("", message)
            else:
                self.add("", f"{message} (column {mark.column + 1})", mark.line + 1)
            return None
        except yaml.YAMLError as exc:  # a ReaderError: a character YAML does not allow
            position = getattr(exc, "position", None)
            line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
            self.add("", f"YAML syntax: {str(exc).splitlines()[0]}", line)
            return None
        data = None if node is None else self.build(node, "", set())
        if data is None:
            return self.project({})
        if not isinstance(data, dict):
            keys = ", ".join(TOP_KEYS)
            message = f"the file must be a mapping of settings ({keys}), not {_type_name(data)}"
            self.add("", message, node.start_mark.line + 1)
            return None
        return self.project(data)

    def build(self, node: Node, path: str, active: set[int]) -> Any:
        if id(node) in active:
            self.add(path, "an alias refers to the node that contains it (a cycle)")
            return None
        active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path, active)
            if isinstance(node, SequenceNode):
                return [
                    self.item(child, child_path(path, i), active)
                    for i, child in enumerate(node.value)
                ]
            return self.scalar(node, path)
        finally:
            active.discard(id(node))

    def item(self, node: Node, path: str, active: set[int]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        return self.build(node, path, active)

    def scalar(self, node: Node, path: str) -> Any:
        self.raw[path] = str(node.value)
        if node.tag not in _PLAIN_TAGS:
            return str(node.value)
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.add(path, exc.problem or str(exc))
            return str(node.value)

    def mapping(self, node: MappingNode, path: str, active: set[int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.add(path, "mapping keys must be strings", key_node.start_mark.line + 1)
                continue
            key = str(key_node.value)
            key_path = child_path(path, key)
            line = key_node.start_mark.line + 1
            if key in result:
                first = self.lines[key_path]
                self.lines[key_path] = line
                self.add(key_path, f"key already defined at line {first}; keep only one")
            self.lines[key_path] = line
            result[key] = self.build(value_node, key_path, active)
        return result

    # ------------------------------------------------------------ settings

    def unknown(self, data: dict[str, Any], path: str, known: tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                self.add(child_path(path, key), _closest(key, known))

    def string(self, value: Any, path: str, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, str):
            self.add(path, f"must be a string (got {_type_name(value)})")
            return None
        if required and not value:
            self.add(path, "must not be empty")
            return None
        return value

    def listing(self, value: Any, path: str, example: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list (got {_type_name(value)}), e.g. {example}")
            return []
        return value

    def project(self, data: dict[str, Any]) -> Project:
        self.unknown(data, "", TOP_KEYS)
        environment = self.string(data.get("environment"), "environment")
        if environment is not None and (error := dns1123_label_error(environment)):
            self.add("environment", f"not a valid environment name: {error}")
        host = self.string(data.get("hostAddress"), "hostAddress")
        if host is not None:
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                self.add("hostAddress", f'"{host}" is not an IPv4 address, e.g. 127.0.0.1')
        domain = self.string(data.get("clusterDomain"), "clusterDomain")
        if domain is not None and (error := dns1123_subdomain_error(domain)):
            self.add("clusterDomain", f"not a valid domain: {error}")
        manifests = self.manifests(data.get("manifests"))
        images = self.images(data.get("images"))
        return Project(self.file, environment, manifests, host, domain, images)

    def manifests(self, value: Any) -> tuple[Path, ...]:
        found: list[Path] = []
        for index, item in enumerate(self.listing(value, "manifests", "[k8s/]")):
            path = child_path("manifests", index)
            text = self.string(item, path, required=True)
            if text is None:
                continue
            resolved = _normal(self.base / text)
            if not resolved.exists():
                self.add(path, f"{text} does not exist {self.where}")
            found.append(resolved)
        return tuple(found)

    def images(self, value: Any) -> tuple[ImageBuild, ...]:
        built: list[ImageBuild] = []
        names: dict[str, str] = {}
        for index, item in enumerate(self.listing(value, "images", "[{name: web, context: .}]")):
            path = child_path("images", index)
            if not isinstance(item, dict):
                self.add(path, f"must be a mapping with name and context (got {_type_name(item)})")
                continue
            image = self.image(item, path)
            if image is None:
                continue
            key = image.name if ":" in image.name.rsplit("/", 1)[-1] else f"{image.name}:latest"
            if key in names:
                self.add(
                    child_path(path, "name"),
                    f'"{image.name}" is already built by {names[key]}; give each image its own '
                    "name or tag",
                )
                continue
            names[key] = path
            built.append(image)
        return tuple(built)

    def image(self, data: dict[str, Any], path: str) -> ImageBuild | None:
        self.unknown(data, path, IMAGE_KEYS)
        name_at = child_path(path, "name")
        name = self.string(data.get("name"), name_at, required=True)
        if name is not None and (error := image_reference_error(name)):
            self.add(name_at, f'"{name}" is not a valid image reference: {error}')
            name = None
        context = self.context(data.get("context"), child_path(path, "context"))
        dockerfile = self.dockerfile(
            data.get("dockerfile"), child_path(path, "dockerfile"), context
        )
        args = self.args(data.get("args"), child_path(path, "args"))
        target = self.string(data.get("target"), child_path(path, "target"))
        sync = self.sync(data.get("sync"), child_path(path, "sync"), context)
        if name is None or context is None or dockerfile is None:
            return None
        return ImageBuild(name, context, dockerfile, MappingProxyType(args), target, sync)

    def context(self, value: Any, path: str) -> Path | None:
        text = self.string(value, path, required=True)
        if text is None:
            return None
        context = _normal(self.base / text)
        if not context.exists():
            self.add(path, f"directory {text} does not exist {self.where}")
            return None
        if not context.is_dir():
            self.add(path, f"{text} is not a directory {self.where}")
            return None
        return context

    def dockerfile(self, value: Any, path: str, context: Path | None) -> str | None:
        text = self.string(value, path) if value is not None else "Dockerfile"
        if text is None or context is None:
            return text
        if (context / text).is_file():
            return text
        if value is None:
            self.add(path, f"no Dockerfile in the context {context}; add one or set dockerfile")
        else:
            self.add(path, f"file {text} does not exist in the context {context}")
        return None

    def args(self, value: Any, path: str) -> Mapping[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(
                path,
                f"must be a mapping of build args (got {_type_name(value)}), e.g. {{KEY: value}}",
            )
            return {}
        args: dict[str, str] = {}
        for key, item in value.items():
            at = child_path(path, key)
            if item is None or isinstance(item, (dict, list)):
                self.add(
                    at,
                    f'must be a string, number or boolean (got {_type_name(item)}); write "" for empty',
                )
                continue
            args[key] = self.raw.get(at, str(item))
        return args

    def sync(self, value: Any, path: str, context: Path | None) -> tuple[SyncRule, ...]:
        rules: list[SyncRule] = []
        for index, item in enumerate(
            self.listing(value, path, "[{src: ./static, dest: /app/static}]")
        ):
            at = child_path(path, index)
            if not isinstance(item, dict):
                self.add(at, f"must be a mapping with src and dest (got {_type_name(item)})")
                continue
            self.unknown(item, at, SYNC_KEYS)
            src = self.sync_src(item.get("src"), child_path(at, "src"), context)
            dest = self.string(item.get("dest"), child_path(at, "dest"), required=True)
            if dest is not None and not dest.startswith("/"):
                self.add(
                    child_path(at, "dest"),
                    f'"{dest}" must be an absolute path in the container, e.g. /{dest.lstrip("./")}',
                )
                dest = None
            if src is not None and dest is not None:
                rules.append(SyncRule(src, str(PurePosixPath(dest))))
        return tuple(rules)

    def sync_src(self, value: Any, path: str, context: Path | None) -> Path | None:
        text = self.string(value, path, required=True)
        if text is None:
            return None
        src = _normal(self.base / text)
        if not src.exists():
            self.add(path, f"{text} does not exist {self.where}")
            return None
        if context is not None and not src.is_relative_to(context):
            self.add(
                path,
                f"{text} is outside the image's context {context}; sync sources must be inside it",
            )
            return None
        return src
