"""One bounded YAML reader for manifests and localsvc.yaml: text in, plain values with lines out.

YAML lets a few hundred bytes stand for billions of values (nested anchors and aliases, "billion
laughs"), and PyYAML will build any Python object a tag names. Every text localsvc reads goes
through here, so every reader gets the same limits:

- at most `MAX_TEXT_BYTES` per file (or standard input);
- aliases may add at most `MAX_ALIAS_NODES` nodes to one text. Nodes are counted while composing,
  where an alias costs one reference, before anything is expanded; the expansion itself happens
  when values are built, so a bomb is refused in milliseconds instead of filling memory;
- at most `MAX_DEPTH` levels of nesting (PyYAML's composer recurses once per level);
- only the YAML core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) may be
  written explicitly; any other tag (`!!python/object`, `!!binary`, `!custom`) is a problem with its
  line and field, and values are only ever built by the safe constructor.

Paths of values are written `spec.ports[0].name`; a key that is not a plain word goes in brackets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, Event
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:  # libyaml scans and parses about 8 times faster than PyYAML's pure-Python parser
    from yaml._yaml import CParser as _LibyamlParser
except ImportError:  # PyYAML built without libyaml
    _LibyamlParser = None

from localsvc.errors import Problem

MAX_TEXT_BYTES = 8 * 1024 * 1024
# Real manifests alias small shared blocks (labels, env lists): hundreds to a few thousand nodes.
# 100,000 nodes build in well under a second and a few tens of MB; the 389-byte billion-laughs
# document stands for 10^9. The budget is per text, not per document, so a file of many small
# bombs is refused too.
MAX_ALIAS_NODES = 100_000
# Kubernetes objects nest about 15 levels; PyYAML's composer recurses twice per level.
MAX_DEPTH = 100

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_CORE + name for name in ("null", "bool", "int", "float", "str"))
_ALLOWED_EXPLICIT: dict[type[Node], frozenset[str]] = {
    ScalarNode: _SCALAR_TAGS,
    SequenceNode: frozenset({_CORE + "seq"}),
    MappingNode: frozenset({_CORE + "map"}),
}
_MERGE_TAG = _CORE + "merge"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class YamlTextError(Exception):
    """The text cannot be read at all; `line` (1-based, or None) and `message` say why."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


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


def decode(data: bytes) -> str:
    """The UTF-8 text of a file's bytes (a BOM is dropped); YamlTextError when too big or binary."""
    if len(data) > MAX_TEXT_BYTES:
        raise YamlTextError(None, too_big_message())
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlTextError(data[: exc.start].count(b"\n") + 1, "not UTF-8 text") from exc


def read_text_file(file: str | os.PathLike[str]) -> str:
    """The text of a manifest or project file: a huge file is refused before it is read, and the
    read is bounded too (the file may be growing). YamlTextError when too big or binary; OSError
    when it cannot be read (see `unreadable_message`)."""
    if os.path.getsize(file) > MAX_TEXT_BYTES:
        raise YamlTextError(None, too_big_message())
    with open(file, "rb") as stream:
        return decode(stream.read(MAX_TEXT_BYTES + 1))


def unreadable_message(exc: OSError) -> str:
    """What a problem says of a file that cannot be read."""
    return f"cannot read the file: {(exc.strerror or str(exc)).lower()}"


def too_big_message() -> str:
    mib = MAX_TEXT_BYTES // (1024 * 1024)
    return f"larger than {mib} MiB; split it into several files"


@dataclass
class Composed:
    """The node trees of a text, and the nodes written with a tag that is not allowed."""

    documents: list[Node]
    bad_tags: dict[int, str] = field(default_factory=dict)  # id(node) -> the tag as written


def compose(text: str, single: bool = False) -> Composed:
    """Compose every document of `text` (exactly one when `single`) within the limits above.

    Raises YamlTextError for syntax errors, too many alias nodes or too deep nesting.
    """
    if _FastLoader is not None:
        try:
            return _compose(_FastLoader, text, single)
        except yaml.YAMLError:
            pass  # libyaml's messages are terser and differ: the pure-Python parser says why
    try:
        return _compose(_PureLoader, text, single)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            raise YamlTextError(None, message) from exc
        raise YamlTextError(mark.line + 1, f"{message} (column {mark.column + 1})") from exc
    except yaml.YAMLError as exc:  # a ReaderError: a character YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise YamlTextError(line, str(exc).splitlines()[0]) from exc


def _compose(loader_class: Any, text: str, single: bool) -> Composed:
    loader = loader_class(text)  # a reader checks the characters at once: inside the caller's try
    try:
        if single:
            node = loader.get_single_node()
            documents = [] if node is None else [node]
        else:
            documents = []
            while loader.check_node():
                documents.append(loader.get_node())
        return Composed(documents, loader.bad_tags)
    finally:
        loader.dispose()


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _BoundedComposer(Composer):  # type: ignore[misc]  # PyYAML has no type hints
    """PyYAML's composer (nodes only, nothing constructed), counting what aliases would expand
    to and how deep the text nests. Mixed with a parser and the resolver below."""

    def __init__(self) -> None:
        super().__init__()
        self.expanded: dict[int, int] = {}  # id(node) -> its node count with aliases expanded
        self.alias_nodes = 0
        self.depth = 0
        self.bad_tags: dict[int, str] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event: Event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            node: Node = super().compose_node(parent, index)
            # An alias to a node still being composed is a cycle; the builder reports it.
            self.alias_nodes += self.expanded.get(id(node), 1)
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise YamlTextError(
                    line,
                    f"aliases (*{event.anchor}) expand this text to more than {MAX_ALIAS_NODES} "
                    "values; write the repeated parts out or use fewer nested aliases",
                )
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlTextError(line, f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _ALLOWED_EXPLICIT.get(type(node), ()):
            self.bad_tags[id(node)] = tag
        self.expanded[id(node)] = 1 + sum(self.expanded.get(id(c), 1) for c in _children(node))
        return node


class _PureLoader(Reader, Scanner, Parser, _BoundedComposer, Resolver):  # type: ignore[misc]
    def __init__(self, text: str):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        Resolver.__init__(self)


_FastLoader: Any = None
if _LibyamlParser is not None:

    class _LibyamlLoader(_BoundedComposer, _LibyamlParser, Resolver):  # type: ignore[misc]
        # The composer comes first: libyaml gives the events, the Python composer the nodes.
        def __init__(self, text: str):
            _LibyamlParser.__init__(self, text)
            _BoundedComposer.__init__(self)
            Resolver.__init__(self)

    _FastLoader = _LibyamlLoader


class NodeBuilder:
    """Builds plain JSON-like values from composed nodes, recording the line of every path,
    the text of every scalar and every problem (bad tags, bad scalars, duplicate keys, cycles).
    """

    def __init__(self, file: str, composed: Composed):
        self.file = file
        self.lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}
        self.problems: list[Problem] = []
        self._bad_tags = composed.bad_tags
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def build(self, node: Node, path: str) -> Any:
        if id(node) in self._active:
            self._add(node, path, "an alias refers to the node that contains it (a cycle)")
            return None
        tag = self._bad_tags.get(id(node))
        if tag is not None:
            self._add(node, path, f"the tag {_short_tag(tag)} is not allowed; remove it")
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
        line = node.start_mark.line + 1
        self.problems.append(
            Problem(file=self.file, line=line, kind="", name="", path=path, message=message)
        )

    def _scalar(self, node: Node, path: str) -> Any:
        text = str(node.value)
        self.raw[path] = text
        if node.tag not in _SCALAR_TAGS:  # implicit timestamps (2024-01-01), bad tags: the text
            return text
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, OverflowError):  # `!!int x`, `!!bool 2`
            self._add(node, path, f'"{text}" is not a valid {_short_tag(node.tag)}')
            return text

    def _sequence(self, node: SequenceNode, path: str) -> list[Any]:
        items: list[Any] = []
        for index, child in enumerate(node.value):
            child_at = child_path(path, index)
            self.lines[child_at] = child.start_mark.line + 1
            items.append(self.build(child, child_at))
        return items

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:  # merged keys first: written keys override them
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node, path)
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                self._add(key_node, path, "mapping keys must be strings")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            key_path = child_path(path, key)
            if key in seen:
                message = f'mapping key "{key}" already defined at line {seen[key]}; keep only one'
                self._add(key_node, key_path, message)
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
