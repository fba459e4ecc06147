"""List wrapper and limit/continue pagination, as the etcd-backed API server pages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localsvc.model.kubeapi import listing
from localsvc.model.kubeapi.listing import ListError


def obj(ns: str, name: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns}}


PODS = [obj("default", "c"), obj("default", "a"), obj("kube-system", "a"), obj("default", "b"),
        obj("apps", "z")]


def page(token: str = "", limit: int = 2, rv: int = 50, oldest: int = 10,
         selective: bool = False) -> listing.Page:
    return listing.paginate(PODS, limit=limit, continue_token=token, resource_version=rv,
                            oldest_version=oldest, within_namespace=False, selective=selective)


def keys(p: listing.Page) -> list[str]:
    return [listing.object_key(o, False) for o in p.items]


def test_pages_walk_every_object_in_key_order_with_the_first_version() -> None:
    first = page()
    assert keys(first) == ["apps/z", "default/a"]
    assert (first.resource_version, first.remaining_item_count) == ("50", 3)
    second = page(first.continue_token, rv=57)  # the store moved on: the list keeps version 50
    assert keys(second) == ["default/b", "default/c"]
    assert (second.resource_version, second.remaining_item_count) == ("50", 1)
    last = page(second.continue_token, rv=60)
    assert keys(last) == ["kube-system/a"]
    assert (last.continue_token, last.remaining_item_count, last.resource_version) == (
        "", None, "50")


def test_the_token_is_the_servers_encoding() -> None:
    token = page().continue_token
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded == {"v": "meta.k8s.io/v1", "rv": 50, "start": "default/a\x00"}
    assert "=" not in token


def test_no_limit_or_a_limit_above_the_count_gives_everything_without_a_token() -> None:
    assert len(page(limit=0).items) == 5
    whole = page(limit=5)
    assert (len(whole.items), whole.continue_token, whole.remaining_item_count) == (5, "", None)


def test_within_a_namespace_the_key_is_the_name() -> None:
    mine = [o for o in PODS if o["metadata"]["namespace"] == "default"]
    first = listing.paginate(mine, limit=1, continue_token="", resource_version=9,
                             oldest_version=1, within_namespace=True, selective=False)
    assert listing.decode_continue(first.continue_token).start == "a\x00"


def test_a_selective_list_has_no_remaining_count() -> None:
    assert page(selective=True).remaining_item_count is None


def test_a_token_older_than_the_oldest_version_is_410_with_a_token_to_go_on() -> None:
    token = page(rv=5).continue_token
    with pytest.raises(ListError) as err:
        page(token, rv=80, oldest=20)
    body = err.value.status
    assert (body["code"], body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old to display a "
                                      "consistent list result.")
    go_on = listing.decode_continue(body["metadata"]["continue"])
    assert (go_on.resource_version, go_on.start) == (listing.LATEST, "default/a\x00")
    latest = page(body["metadata"]["continue"], rv=80, oldest=20)
    assert (keys(latest), latest.resource_version) == (["default/b", "default/c"], "80")


@pytest.mark.parametrize(("payload", "reason"), [
    ({"v": "meta.k8s.io/v2", "rv": 5, "start": "a"},
     'server does not recognize this encoded version "meta.k8s.io/v2"'),
    ({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"},
     "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    ({"v": "meta.k8s.io/v1", "rv": 5, "start": ""}, "encoded start key empty"),
    ({"v": "meta.k8s.io/v1", "rv": 5, "start": "../secrets/x"}, "../secrets/x"),
])
def test_bad_tokens_are_400(payload: dict[str, Any], reason: str) -> None:
    token = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(ListError) as err:
        page(token)
    assert err.value.status["code"] == 400
    assert err.value.status["message"] == f"invalid continue token: continue key is not valid: {reason}"


def test_garbage_token_is_400() -> None:
    with pytest.raises(ListError) as err:
        page("%%%not-base64")
    assert err.value.status["reason"] == "BadRequest"
    assert err.value.status["message"].startswith("invalid continue token: continue key is not valid: ")


def test_list_body() -> None:
    p = page()
    body = listing.list_body("Pod", "v1", p)
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": "50", "continue": p.continue_token,
                                "remainingItemCount": 3}
    assert body["items"][0] == {"metadata": {"name": "z", "namespace": "apps"}}
    whole = listing.list_body("Deployment", "apps/v1", page(limit=0))
    assert whole["kind"] == "DeploymentList" and whole["metadata"] == {"resourceVersion": "50"}
