"""The proxy's link rewriting (apimachinery pkg/util/proxy/transport.go), so a browser going
through `kubectl proxy` follows a proxied page's links back through the proxy. Pure.

A URL is rewritten only when it names the backend itself (no host, the backend's host, or the
host the caller asked for) with an absolute path: on the page of
/api/v1/namespaces/NS/services/web:80/proxy/, "/style.css" becomes
/api/v1/namespaces/NS/services/web:80/proxy/style.css.
Relative links already resolve under the proxy path; links to other hosts are left alone. In
HTML only the attributes of atomsToAttrs are touched; every other byte is kept as it was.
"""

from __future__ import annotations

import gzip
import html
import re
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

# Which attributes of which tags hold URLs (transport.go atomsToAttrs).
URL_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}), "applet": frozenset({"codebase"}), "area": frozenset({"href"}),
    "audio": frozenset({"src"}), "base": frozenset({"href"}), "blockquote": frozenset({"cite"}),
    "body": frozenset({"background"}), "button": frozenset({"formaction"}),
    "command": frozenset({"icon"}), "del": frozenset({"cite"}), "embed": frozenset({"src"}),
    "form": frozenset({"action"}), "frame": frozenset({"longdesc", "src"}),
    "head": frozenset({"profile"}), "html": frozenset({"manifest"}),
    "iframe": frozenset({"longdesc", "src"}), "img": frozenset({"longdesc", "src", "usemap"}),
    "input": frozenset({"src", "usemap", "formaction"}), "ins": frozenset({"cite"}),
    "link": frozenset({"href"}), "object": frozenset({"classid", "codebase", "data", "usemap"}),
    "q": frozenset({"cite"}), "script": frozenset({"src"}), "source": frozenset({"src"}),
    "video": frozenset({"poster", "src"}),
}
# Elements whose content is text, not markup: a "<a href=" inside a script is not a link.
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "noembed", "noframes"})

_TAG = re.compile(r"<([A-Za-z][^\s/>]*)")
_ATTRIBUTE = re.compile(
    r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?""")


def rewrite_url(target: str, backend_host: str, request_host: str, path_prepend: str) -> str:
    """Transport.rewriteURL on the API server (its Transport's Scheme and Host are empty)."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return target
    host = parts.netloc
    different_host = host != "" and host not in (backend_host, request_host)
    if different_host or not parts.path.startswith("/"):
        return target
    scheme = parts.scheme
    if host != request_host:
        # The Transport's empty scheme and host: the link becomes a path on the proxy.
        scheme, host = "", ""
    if parts.path.startswith(path_prepend):
        return urlunsplit((scheme, host, parts.path, parts.query, parts.fragment))
    return urlunsplit((scheme, host, go_join(path_prepend, parts.path), parts.query,
                       parts.fragment))


def go_clean(path: str) -> str:
    """Go's path.Clean of an absolute path: no "//", ".", ".." left."""
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def go_join(base: str, path: str) -> str:
    """Go's path.Join(base, path) of an absolute `base`, with `path`'s trailing slash kept (the
    API server's proxy keeps it: "/static/" stays a directory)."""
    joined = go_clean(f"{base}/{path}")
    if path.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


def rewrite_html(text: str, rewrite: Callable[[str], str]) -> str:
    """`text` with each URL attribute of URL_ATTRIBUTES passed through `rewrite`."""
    out: list[str] = []
    copied = 0  # text[:copied] is in `out`
    pos = 0  # where the scan goes on
    while (lt := text.find("<", pos)) >= 0:
        if text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            pos = len(text) if end < 0 else end + 3
            continue
        if text[lt + 1:lt + 2] in ("!", "?", "/"):
            end = text.find(">", lt)
            pos = len(text) if end < 0 else end + 1
            continue
        tag = _TAG.match(text, lt)
        if tag is None:
            pos = lt + 1
            continue
        name = tag.group(1).lower()
        end, edits = _start_tag(text, tag.end(), URL_ATTRIBUTES.get(name, frozenset()), rewrite)
        for start, stop, value in edits:
            out.append(text[copied:start])
            out.append(value)
            copied = stop
        pos = end
        if name in _RAW_TEXT:
            closing = re.compile(rf"</{re.escape(name)}[\s/>]", re.IGNORECASE).search(text, pos)
            pos = len(text) if closing is None else closing.start()
    out.append(text[copied:])
    return "".join(out)


def _start_tag(text: str, pos: int, wanted: frozenset[str],
               rewrite: Callable[[str], str]) -> tuple[int, list[tuple[int, int, str]]]:
    """Scan a start tag's attributes from `pos`: where the tag ends, and the (start, stop,
    replacement) of each URL attribute value that changes."""
    edits: list[tuple[int, int, str]] = []
    while pos < len(text):
        char = text[pos]
        if char == ">":
            return pos + 1, edits
        if char.isspace() or char == "/":
            pos += 1
            continue
        match = _ATTRIBUTE.match(text, pos)
        if match is None:
            pos += 1
            continue
        key = match.group(1).lower()
        group = next((g for g in (2, 3, 4) if match.group(g) is not None), None)
        if key in wanted and group is not None:
            value = html.unescape(match.group(group))
            new = rewrite(value)
            if new != value:
                start, stop = match.span(group)
                if group in (2, 3):  # replace the quotes too
                    start, stop = start - 1, stop + 1
                edits.append((start, stop, '"' + html.escape(new, quote=True) + '"'))
        pos = match.end()
    return len(text), edits


# The most an HTML page may inflate to and still be rewritten (the proxy reads at most as
# much of the encoded body); past it the page passes unchanged, as one too large to read does.
MAX_DECODED = 16 * 1024 * 1024


def rewrite_html_body(body: bytes, content_encoding: str, rewrite: Callable[[str], str],
                      max_decoded: int = MAX_DECODED) -> bytes | None:
    """An HTML body (gzip, deflate or identity; taken as UTF-8, as the API server does) with
    its links rewritten and encoded again; None (the body then passes unchanged) for an
    encoding the proxy does not know, a body that does not decode, or one that inflates past
    `max_decoded` bytes."""
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        raw = _decompress(body, 16 + zlib.MAX_WBITS, max_decoded)
    elif encoding == "deflate":
        # zlib-wrapped as the RFC says, or raw deflate as some servers send it.
        raw = _decompress(body, zlib.MAX_WBITS, max_decoded)
        if raw is None:
            raw = _decompress(body, -zlib.MAX_WBITS, max_decoded)
    elif encoding == "":
        raw = body
    else:
        return None
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="surrogateescape")
    rewritten = rewrite_html(text, rewrite).encode("utf-8", errors="surrogateescape")
    if encoding == "gzip":
        return gzip.compress(rewritten)
    if encoding == "deflate":
        return zlib.compress(rewritten)
    return rewritten


def _decompress(body: bytes, wbits: int, limit: int) -> bytes | None:
    """`body` decompressed (gzip: every member), or None when it is corrupt, cut short or
    larger than `limit` once inflated (found without inflating more than limit + 1 bytes)."""
    out = bytearray()
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or inflater.unconsumed_tail:
                return None
            if not inflater.eof:
                return None  # cut short
            rest = inflater.unused_data
            if not rest or wbits != 16 + zlib.MAX_WBITS:
                return bytes(out) if not rest else None
    except zlib.error:
        return None


def is_html(content_type: str) -> bool:
    """The Transport rewrites text/html only (parameters such as charset ignored)."""
    return content_type.split(";", 1)[0].strip().lower() == "text/html"


__all__ = ["URL_ATTRIBUTES", "go_clean", "go_join", "is_html", "rewrite_html", "rewrite_html_body",
           "rewrite_url"]
