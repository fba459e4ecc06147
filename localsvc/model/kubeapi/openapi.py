"""The OpenAPI documents of the API (/openapi/v2 and /openapi/v3), read from the generated data.

scripts/update-openapi writes them from the official schemas (data/openapi-v2.json.gz, the same
in protobuf in data/openapi-v2.pb.gz, and one data/openapi-v3-<path>.json.gz per group-version);
this module reads each file once, when first asked, names the hash clients cache them by, and
answers each request as kube-openapi does (answer_v2, answer_v3_index, answer_v3). The
/openapi/v3 index lists only the group-versions the API serves (resources.py), though the data
covers the next issues' too.

A client (kubectl explain, kubectl apply's strategic merge) reads the index, then each document at
its `serverRelativeURL` (`?hash=<hash>`): a document whose hash it has already is never fetched
again, as with a real API server.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any

from localsvc.model.kubeapi.discovery import parse_accept
from localsvc.model.kubeapi.resources import RESOURCES

DATA = Path(__file__).resolve().parent.parent / "data"
V2_FILE = "openapi-v2.json.gz"
V2_PROTOBUF_FILE = "openapi-v2.pb.gz"
# The media types of /openapi/v2 in protobuf: client-go asks for the first (deprecated) one; the
# API server answers either with the second.
V2_PROTOBUF_TYPES = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                     "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
V3_PREFIX = "openapi-v3-"
SUFFIX = ".json.gz"
JSON = "application/json"


def v3_file_name(group_version_path: str) -> str:
    """The data file of a group-version's document ("apis/apps/v1" ->
    "openapi-v3-apis-apps-v1.json.gz"; group names hold no "-")."""
    return V3_PREFIX + group_version_path.replace("/", "-") + SUFFIX


def group_version_path(group: str, version: str) -> str:
    """The path of a group-version under /openapi/v3/ ("api/v1", "apis/apps/v1")."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def served_paths() -> tuple[str, ...]:
    """The group-version paths /openapi/v3 lists: those of the served resources, in order."""
    paths: list[str] = []
    for resource in RESOURCES:
        path = group_version_path(resource.group, resource.version)
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def document_hash(data: bytes) -> str:
    """The hash the API server names a document by: SHA-512, upper-case hex (kube-openapi)."""
    return hashlib.sha512(data).hexdigest().upper()


def etag(data: bytes) -> str:
    """The ETag header of a document (quoted, as HTTP wants)."""
    return f'"{document_hash(data)}"'


@cache
def _read(name: str) -> bytes:
    return gzip.decompress((DATA / name).read_bytes())


def openapi_v2() -> bytes:
    """The swagger 2.0 document of /openapi/v2, in JSON."""
    return _read(V2_FILE)


def openapi_v2_hash() -> str:
    return _hash_of(V2_FILE)


def openapi_v2_protobuf() -> bytes:
    """The same document as gnostic's openapi_v2.Document in protobuf, what client-go decodes."""
    return _read(V2_PROTOBUF_FILE)


@cache
def _hash_of(name: str) -> str:
    return document_hash(_read(name))


def openapi_v3(group_version: str) -> bytes | None:
    """The OpenAPI 3.0 document of one served group-version ("api/v1", "apis/apps/v1"; a leading
    "/" or "/openapi/v3/" is accepted), or None when that group-version is not served."""
    path = group_version.removeprefix("/").removeprefix("openapi/v3/")
    if path not in served_paths():
        return None
    return _read(v3_file_name(path))


def openapi_v3_hash(group_version: str) -> str | None:
    """The hash of a served group-version's document, or None."""
    path = group_version.removeprefix("/").removeprefix("openapi/v3/")
    if path not in served_paths():
        return None
    return _hash_of(v3_file_name(path))


def openapi_v3_index() -> dict[str, Any]:
    """The /openapi/v3 document: each served group-version and the URL of its document."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash_of(v3_file_name(path))}"}
            for path in served_paths()
        }
    }


@dataclass(frozen=True)
class OpenAPIAnswer:
    """An HTTP answer to an OpenAPI request, for the server to send as it is."""

    status: int
    body: bytes
    headers: dict[str, str]


NOT_ACCEPTABLE = OpenAPIAnswer(406, b"", {})
NOT_FOUND = OpenAPIAnswer(404, b"", {})


def _chosen(accept: str | None, offered: tuple[str, ...]) -> str | None:
    """The first offered media type the Accept header takes, its ranges by quality then order
    (a wildcard takes the first offered); None when it takes none."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = sorted(enumerate(parse_accept(accept)), key=lambda r: (-r[1].quality, r[0]))
    for _, media in ranges:
        if media.quality <= 0:
            continue
        if media.media_type in ("*/*", "application/*"):
            return offered[0]
        if media.media_type in offered:
            return media.media_type
    return None


def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header takes JSON (v3 documents are served in JSON only: a client
    asking for protobuf only gets 406 rather than JSON it cannot decode)."""
    return _chosen(accept, (JSON,)) is not None


def _served(data: bytes, if_none_match: str | None,
            extra: dict[str, str] | None = None) -> OpenAPIAnswer:
    headers = {"Content-Type": JSON, "ETag": etag(data), **(extra or {})}
    if if_none_match is not None and etag(data) in (t.strip() for t in if_none_match.split(",")):
        return OpenAPIAnswer(304, b"", headers)  # the client's copy is current
    return OpenAPIAnswer(200, data, headers)


def answer_v2(accept: str | None, if_none_match: str | None = None) -> OpenAPIAnswer:
    """GET /openapi/v2: JSON, or protobuf for client-go (kubectl explain's v2 output)."""
    chosen = _chosen(accept, (JSON, *V2_PROTOBUF_TYPES))
    if chosen is None:
        return NOT_ACCEPTABLE
    if chosen == JSON:
        return _served(openapi_v2(), if_none_match)
    return _served(openapi_v2_protobuf(), if_none_match, {"Content-Type": V2_PROTOBUF_TYPES[1]})


def openapi_v3_index_bytes() -> bytes:
    return _index_bytes()


@cache
def _index_bytes() -> bytes:
    return json.dumps(openapi_v3_index(), separators=(",", ":")).encode()


def answer_v3_index(if_none_match: str | None = None) -> OpenAPIAnswer:
    """GET /openapi/v3."""
    return _served(_index_bytes(), if_none_match)


def _a_year_after(now: datetime) -> datetime:
    """The same date a year later; 29 February becomes 1 March, as Go's AddDate(1, 0, 0)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, month=3, day=1)


def answer_v3(group_version: str, accept: str | None, requested_hash: str | None,
              now: datetime, if_none_match: str | None = None) -> OpenAPIAnswer:
    """GET /openapi/v3/<group_version>[?hash=...], as kube-openapi answers it: a stale hash is
    redirected (301) to the current document's URL; the current hash may be cached for good
    (immutable, expiring a year from `now`, an aware datetime); without a hash the answer carries
    only its ETag. An If-None-Match naming the current ETag gets 304."""
    path = group_version.removeprefix("/").removeprefix("openapi/v3/")
    data = openapi_v3(path)
    if data is None:
        return NOT_FOUND
    if not accepts_json(accept):
        return NOT_ACCEPTABLE
    current = document_hash(data)
    if requested_hash:
        if requested_hash != current:
            location = f"/openapi/v3/{path}?hash={current}"
            return OpenAPIAnswer(301, b"", {"Location": location, "ETag": etag(data)})
        expires = format_datetime(_a_year_after(now).astimezone(timezone.utc), usegmt=True)
        return _served(data, if_none_match, {"Vary": "Accept", "Cache-Control": "public, immutable",
                                             "Expires": expires})
    return _served(data, if_none_match, {"Vary": "Accept"})
