"""The OpenAPI documents of the API (/openapi/v2 and /openapi/v3), read from the generated data.

scripts/update-openapi writes them from the official schemas (data/openapi-v2.json.gz and one
data/openapi-v3-<path>.json.gz per group-version); this module only reads each file once, when
first asked, and names the hash clients cache them by. The /openapi/v3 index lists only the
group-versions the API serves (resources.py), though the data covers the next issues' too.

A client (kubectl explain, kubectl apply's strategic merge) reads the index, then each document at
its `serverRelativeURL` (`?hash=<hash>`): a document whose hash it has already is never fetched
again, as with a real API server.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from localsvc.model.kubeapi.resources import RESOURCES

DATA = Path(__file__).resolve().parent.parent / "data"
V2_FILE = "openapi-v2.json.gz"
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
    """The swagger 2.0 document of /openapi/v2 (JSON; protobuf is not served)."""
    return _read(V2_FILE)


def openapi_v2_hash() -> str:
    return _hash_of(V2_FILE)


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


def cache_headers(data: bytes, requested_hash: str | None) -> dict[str, str]:
    """The caching headers of a document answer: a request naming the document's current hash
    may be cached for good (the URL changes with the content), any other for no time without
    revalidation, as kube-openapi answers."""
    headers = {"ETag": etag(data), "Content-Type": JSON}
    if requested_hash is not None and requested_hash == document_hash(data):
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = "Thu, 31 Dec 2099 23:59:59 GMT"  # far future: an immutable URL
    else:
        headers["Cache-Control"] = "no-cache, private"
    return headers
