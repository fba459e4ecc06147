"""Reading and checking the project file `localsvc.yaml` into a `Project`.

This module owns the file's schema (environment, manifests, host address, cluster domain, the
images to build with their sync rules) and what the file may ask for: paths it names for builds
(contexts, Dockerfiles, sync sources) must stay inside the project directory, symlinks followed,
and a host address other than loopback needs the command line's consent. Its only I/O is reading
the file and checking that the paths it names exist. Every problem is reported at once in one
`ManifestError`, each with the line of the offending key and a hint on how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from localsvc.errors import ManifestError, Problem
from localsvc.model.names import dns1123_label_error, dns1123_subdomain_error
from localsvc.model.shown import show
from localsvc.model.projectmodel import ImageBuild, Project, SyncRule, normal_path
from localsvc.model.yamltext import (
    NodeBuilder,
    YamlTextError,
    child_path,
    compose,
    parent_path,
    read_text_file,
    unreadable_message,
)

KIND = ""  # problems name the file and the field; there is no object kind

TOP_KEYS = ("environment", "manifests", "hostAddress", "clusterDomain", "images",
            "ingressHttpPort", "ingressHttpsPort")
IMAGE_KEYS = ("name", "context", "dockerfile", "args", "target", "sync")
SYNC_KEYS = ("src", "dest")

_REPO_NAME_MAX = 255
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def load_project(path: Path, allow_public_host_address: bool = False) -> Project:
    """Read and validate a project file; raise ManifestError listing every problem found.

    A `hostAddress` that is not loopback is refused unless `allow_public_host_address`: the
    caller passes True only when the user asked for that address on the command line.
    """
    file = normal_path(path)
    try:
        text = read_text_file(file)
    except FileNotFoundError as exc:
        raise ManifestError([_bare(file, "no such file")]) from exc
    except YamlTextError as exc:
        raise ManifestError([_bare(file, exc.message, exc.line)]) from exc
    except OSError as exc:
        raise ManifestError([_bare(file, unreadable_message(exc))]) from exc
    checker = _Checker(file, allow_public_host_address)
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


def _bare(file: Path, message: str, line: int | None = None) -> Problem:
    return Problem(file=str(file), line=line, kind=KIND, name="", path="", message=message)


def _closest(key: str, known: tuple[str, ...]) -> str:
    lowered = {k.lower().replace("_", ""): k for k in known}
    match = difflib.get_close_matches(key.lower().replace("_", ""), lowered, n=1, cutoff=0.6)
    if match:
        return f'unknown key; did you mean "{lowered[match[0]]}"?'
    return f"unknown key; the known keys are {', '.join(known)}"


class _Checker:
    """Parses the text with the line of every path, then checks each setting."""

    def __init__(self, file: Path, allow_public_host_address: bool):
        self.file = file
        self.base = file.parent
        self.real_base = Path(os.path.realpath(self.base))
        self.allow_public_host_address = allow_public_host_address
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}

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
            composed = compose(text, single=True)
        except YamlTextError as exc:
            self.add("", exc.message, exc.line)
            return None
        builder = NodeBuilder(str(self.file), composed)
        node = composed.documents[0] if composed.documents else None
        data = None if node is None else builder.build(node, "")
        self.lines, self.raw = builder.lines, builder.raw
        self.problems.extend(builder.problems)
        if node is None or data is None:
            return self.project({})
        if not isinstance(data, dict):
            keys = ", ".join(TOP_KEYS)
            message = f"the file must be a mapping of settings ({keys}), not {show(data)}"
            self.add("", message, node.start_mark.line + 1)
            return None
        return self.project(data)

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
            self.add(path, f"must be a string (got {show(value)})")
            return None
        if required and not value:
            self.add(path, "must not be empty")
            return None
        return value

    def listing(self, value: Any, path: str, example: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list (got {show(value)}), e.g. {example}")
            return []
        return value

    def project(self, data: dict[str, Any]) -> Project:
        self.unknown(data, "", TOP_KEYS)
        environment = self.string(data.get("environment"), "environment")
        if environment is not None and (error := dns1123_label_error(environment)):
            self.add("environment", f"not a valid environment name: {error}")
        host = self.string(data.get("hostAddress"), "hostAddress")
        if host is not None:
            self.host_address(host)
        domain = self.string(data.get("clusterDomain"), "clusterDomain")
        if domain is not None and (error := dns1123_subdomain_error(domain)):
            self.add("clusterDomain", f"not a valid domain: {error}")
        manifests = self.manifests(data.get("manifests"))
        images = self.images(data.get("images"))
        ports = (self.port(data.get("ingressHttpPort"), "ingressHttpPort"),
                 self.port(data.get("ingressHttpsPort"), "ingressHttpsPort"))
        return Project(self.file, environment, manifests, host, domain, images, ports)

    def port(self, value: Any, path: str) -> int | None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= 65535):
            self.add(path, f"must be a port number 0-65535 (0: any free port), got {show(value)}")
            return None
        return value

    def host_address(self, host: str) -> None:
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            self.add("hostAddress", f'"{host}" is not an IPv4 address, e.g. 127.0.0.1')
            return
        if not address.is_loopback and not self.allow_public_host_address:
            # A file in a cloned repository must not open NodePorts to the network by itself.
            self.add(
                "hostAddress",
                f"{host} is not a loopback address: NodePorts on it are reachable from other "
                f"machines, so the file alone cannot ask for it; pass --host-address {host} on "
                "the command line, or use 127.0.0.1",
            )

    def outside(self, path: str, text: str, target: Path, what: str) -> bool:
        """Report `target` and answer True when it (symlinks followed) leaves the project."""
        real = Path(os.path.realpath(target))
        if real.is_relative_to(self.real_base):
            return False
        via = "" if real == normal_path(target) else f" (through a symlink, to {real})"
        self.add(
            path,
            f"{text} is outside the project directory {self.base}{via}; {what} must be inside it",
        )
        return True

    def manifests(self, value: Any) -> tuple[Path, ...]:
        found: list[Path] = []
        for index, item in enumerate(self.listing(value, "manifests", "[k8s/]")):
            path = child_path("manifests", index)
            text = self.string(item, path, required=True)
            if text is None:
                continue
            resolved = normal_path(self.base / text)
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
                self.add(path, f"must be a mapping with name and context (got {show(item)})")
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

    def inside(self, value: Any, path: str, what: str, noun: str = "") -> tuple[str, Path] | None:
        """A required path setting (`what`: such paths, e.g. "sync sources"; `noun`: what one
        is, for the message): as written and resolved, when it exists inside the project; else
        None, the problem recorded."""
        text = self.string(value, path, required=True)
        if text is None:
            return None
        target = normal_path(self.base / text)
        if self.outside(path, text, target, what):
            return None
        if not target.exists():
            self.add(path, f"{noun}{text} does not exist {self.where}")
            return None
        return text, target

    def context(self, value: Any, path: str) -> Path | None:
        found = self.inside(value, path, "build contexts", noun="directory ")
        if found is None:
            return None
        text, context = found
        if not context.is_dir():
            self.add(path, f"{text} is not a directory {self.where}")
            return None
        return context

    def dockerfile(self, value: Any, path: str, context: Path | None) -> str | None:
        text = self.string(value, path) if value is not None else "Dockerfile"
        if text is None or context is None:
            return text
        if self.outside(path, text, context / text, "Dockerfiles"):
            return None
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
                f"must be a mapping of build args (got {show(value)}), e.g. {{KEY: value}}",
            )
            return {}
        args: dict[str, str] = {}
        for key, item in value.items():
            at = child_path(path, key)
            if item is None or isinstance(item, (dict, list)):
                self.add(
                    at,
                    f'must be a string, number or boolean (got {show(item)}); write "" for empty',
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
                self.add(at, f"must be a mapping with src and dest (got {show(item)})")
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
        found = self.inside(value, path, "sync sources")
        if found is None:
            return None
        text, src = found
        if context is not None and not src.is_relative_to(context):
            self.add(
                path,
                f"{text} is outside the image's context {context}; sync sources must be inside it",
            )
            return None
        return src
