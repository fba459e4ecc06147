""".dockerignore semantics, as the docker CLI applies them to a build context.

Rules (moby's ``ignorefile`` + ``patternmatcher``):

- one pattern a line; lines starting with ``#`` are comments; blank lines are skipped;
- ``!pattern`` re-includes what an earlier pattern excluded; the *last* matching pattern wins;
- patterns are cleaned like paths (``./a//b/`` is ``a/b``) and a leading ``/`` is dropped: every
  pattern is relative to the context root;
- ``*`` matches within one path component, ``?`` one character of it, ``[...]`` a class,
  ``**`` any number of components (also none), ``\\`` escapes the next character;
- a pattern that matches a directory also matches everything under it;
- the Dockerfile and ``.dockerignore`` itself are always sent (the daemon needs the one, and
  the CLI keeps the other), whatever the patterns say;
- ``<Dockerfile>.dockerignore`` (e.g. ``app.Dockerfile.dockerignore``), when present, is used
  instead of ``.dockerignore``, as BuildKit does.

The matcher is pure; `context_files` walks a directory with it.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".dockerignore"
_REGEX_SPECIALS = frozenset(".+()|{}$^")


@dataclass(frozen=True)
class Pattern:
    """One cleaned .dockerignore line: `exclusion` is True for a `!` line."""

    text: str
    exclusion: bool
    regex: re.Pattern[str]


def clean_pattern(raw: str) -> str:
    """A pattern as moby cleans it: path-normalised, slash-separated, no leading `/`."""
    cleaned = posixpath.normpath(raw.strip())
    if cleaned.startswith("//"):  # normpath keeps a leading `//`; Go's Clean does not
        cleaned = "/" + cleaned.lstrip("/")
    if len(cleaned) > 1 and cleaned.startswith("/"):
        cleaned = cleaned[1:]
    return cleaned


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regex of a cleaned pattern (moby's translation of `*`, `**`, `?`, `\\`)."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1  # `**/` is `**`: zero or more whole components
                out.append(".*" if i + 1 >= len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            i += 1
            out.append(re.escape(pattern[i]) if i < len(pattern) else "\\\\")
        elif char == "[" and pattern[i + 1 : i + 2] == "!":
            out.append("[^")  # filepath.Match's negated class
            i += 1
        elif char in _REGEX_SPECIALS:
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error:
        # A malformed class (`[a`) matches nothing, as filepath.Match reports ErrBadPattern.
        return re.compile(r"(?!)")


def parse(text: str) -> list[Pattern]:
    """The patterns of a .dockerignore file's text, in order."""
    patterns: list[Pattern] = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = clean_pattern(line)
        patterns.append(Pattern(cleaned, exclusion, pattern_regex(cleaned)))
    return patterns


class IgnoreMatcher:
    """Decides which context paths (slash-separated, relative to the root) are left out."""

    def __init__(self, patterns: list[Pattern], always_sent: tuple[str, ...] = ()) -> None:
        self.patterns = patterns
        self.always_sent = frozenset(clean_pattern(p) for p in always_sent)

    @classmethod
    def from_text(cls, text: str, dockerfile: str = "Dockerfile") -> IgnoreMatcher:
        return cls(parse(text), always_sent=(dockerfile, IGNORE_FILE))

    def ignored(self, relpath: str) -> bool:
        """Whether `relpath` is left out of the context (the last matching pattern decides)."""
        path = clean_pattern(relpath)
        if path in self.always_sent:
            return False
        parts = path.split("/")
        result = False
        for pattern in self.patterns:
            if self._matches(pattern, path, parts):
                result = not pattern.exclusion
        return result

    def may_include_under(self, reldir: str) -> bool:
        """Whether something under an ignored directory can still be sent, so the walk must
        descend: as the docker CLI decides it, only when an `!` pattern names that directory
        or a path below it (`!docs/keep.md` for docs/), or an always-sent file lies below."""
        prefix = clean_pattern(reldir) + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns) or \
            any(p.startswith(prefix) for p in self.always_sent)

    @staticmethod
    def _matches(pattern: Pattern, path: str, parts: list[str]) -> bool:
        # A pattern matching a parent directory matches everything under it.
        return bool(pattern.regex.match(path)) or any(
            pattern.regex.match("/".join(parts[:n])) for n in range(1, len(parts))
        )


def ignore_file(context_dir: Path, dockerfile: str = "Dockerfile") -> Path:
    """The ignore file of a build: `<Dockerfile>.dockerignore` beside the Dockerfile when it
    exists (BuildKit's per-Dockerfile ignore file), else the context's .dockerignore."""
    specific = Path(context_dir) / f"{dockerfile}{IGNORE_FILE}"
    return specific if specific.is_file() else Path(context_dir) / IGNORE_FILE


def load_matcher(context_dir: Path, dockerfile: str = "Dockerfile") -> IgnoreMatcher:
    """The matcher of `context_dir`'s ignore file (none: nothing is ignored)."""
    path = ignore_file(context_dir, dockerfile)
    text = path.read_text(errors="replace") if path.is_file() else ""
    return IgnoreMatcher.from_text(text, dockerfile)


def context_entries(context_dir: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """The relative paths (sorted, slash-separated) a build of `context_dir` sends: files,
    symlinks (sent as links, never followed) and the directories that are not ignored."""
    root = Path(context_dir)
    matcher = load_matcher(root, dockerfile)
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        rel_dir = Path(current).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        kept_dirs = []
        for name in sorted(dirs):
            rel = prefix + name
            ignored = matcher.ignored(rel)
            if not ignored:
                found.append(rel)
            if os.path.islink(os.path.join(current, name)):
                continue
            if not ignored or matcher.may_include_under(rel):
                kept_dirs.append(name)
        dirs[:] = kept_dirs
        found.extend(prefix + name for name in files if not matcher.ignored(prefix + name))
    return sorted(found)


def context_files(context_dir: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """The entries of `context_entries` that carry content: files and symlinks."""
    root = Path(context_dir)
    return [rel for rel in context_entries(root, dockerfile)
            if (root / rel).is_symlink() or not (root / rel).is_dir()]
