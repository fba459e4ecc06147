"""List responses: the `<Kind>List` wrapper and `limit`/`continue` pagination. Pure.

Pages follow the etcd-backed API server: objects in key order ("namespace/name" across
namespaces, "name" within one or for cluster-scoped kinds); a page of `limit` objects ends with a
continue token, base64url (unpadded) of {"v": "meta.k8s.io/v1", "rv": <resourceVersion of the
first page>, "start": <last key + NUL>}; every later page reports that first resourceVersion.
The store keeps no old versions: a page after the first is read from the current objects, and a
token older than the oldest version the caller can still vouch for is refused with 410 Expired
and an "inconsistent" token to go on from, as the server does after an etcd compaction.
`remainingItemCount` is given only for lists without a label or field selector, as the server.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi import status

TOKEN_VERSION = "meta.k8s.io/v1"
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)
_INVALID = "continue key is not valid"
LATEST = -1  # a token's resourceVersion meaning "continue at the latest version"


class ListError(Exception):
    """A list request the server refuses; `status` is the metav1.Status to answer with."""

    def __init__(self, body: dict[str, Any]):
        super().__init__(str(body.get("message", "")))
        self.status = body


@dataclass(frozen=True)
class ContinueToken:
    resource_version: int
    start: str  # the first key of the next page (inclusive)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""
    remaining_item_count: int | None = None


def object_key(obj: dict[str, Any], within_namespace: bool) -> str:
    """The key a list orders `obj` by (its etcd key below the list's prefix)."""
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name", ""))
    namespace = metadata.get("namespace")
    return name if within_namespace or not namespace else f"{namespace}/{name}"


def encode_continue(next_key: str, resource_version: int) -> str:
    raw = json.dumps({"v": TOKEN_VERSION, "rv": resource_version, "start": next_key},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> ContinueToken:
    """The token's version and start key; ListError (400 "invalid continue token: ...") else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as err:
        raise _invalid_token(f"{_INVALID}: {err}") from err
    if not isinstance(data, dict):
        raise _invalid_token(f"{_INVALID}: the token is not an object")
    if data.get("v") != TOKEN_VERSION:
        raise _invalid_token(
            f'{_INVALID}: server does not recognize this encoded version "{data.get("v", "")}"')
    version, start = data.get("rv"), data.get("start")
    if not isinstance(version, int) or isinstance(version, bool) or version == 0:
        raise _invalid_token(f"{_INVALID}: incorrect encoded start resourceVersion "
                             f"(version {TOKEN_VERSION})")
    if not isinstance(start, str) or not start:
        raise _invalid_token(f"{_INVALID}: encoded start key empty")
    if start.startswith("/") or posixpath.normpath("/" + start) != "/" + start:
        raise _invalid_token(f"{_INVALID}: {start}")  # no climbing out of the list's prefix
    return ContinueToken(version, start)


def _invalid_token(reason: str) -> ListError:
    return ListError(status.bad_request(f"invalid continue token: {reason}"))


def paginate(objects: Sequence[dict[str, Any]], *, limit: int, continue_token: str,
             resource_version: int, oldest_version: int, within_namespace: bool,
             selective: bool) -> Page:
    """The page of `objects` (the current matching objects, any order) a list answers with.

    `resource_version`: the store's current version; `oldest_version`: the oldest one a token
    may carry; `selective`: a label or field selector narrowed the list (no remainingItemCount).
    """
    keyed = sorted(((object_key(obj, within_namespace), obj) for obj in objects),
                   key=lambda pair: pair[0])
    version = resource_version
    if continue_token:
        token = decode_continue(continue_token)
        if token.resource_version != LATEST:
            if token.resource_version < oldest_version:
                # where the server lets a client go on: the same start, at the latest version
                raise ListError(status.expired(INCONSISTENT_CONTINUE,
                                               encode_continue(token.start, LATEST)))
            version = token.resource_version
        keyed = [pair for pair in keyed if pair[0] >= token.start]
    if limit <= 0 or len(keyed) <= limit:
        return Page([obj for _, obj in keyed], str(version))
    page = keyed[:limit]
    next_token = encode_continue(page[-1][0] + "\x00", version)
    remaining = None if selective else len(keyed) - limit
    return Page([obj for _, obj in page], str(version), next_token, remaining)


def list_body(kind: str, api_version: str, page: Page) -> dict[str, Any]:
    """The `<Kind>List` the server answers; its items carry no kind/apiVersion, as typed lists."""
    metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
    if page.continue_token:
        metadata["continue"] = page.continue_token
    if page.remaining_item_count is not None:
        metadata["remainingItemCount"] = page.remaining_item_count
    items = [{key: value for key, value in obj.items() if key not in ("kind", "apiVersion")}
             for obj in page.items]
    return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata,
            "items": items}
