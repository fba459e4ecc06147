"""localsvc.model.applywire: the POST /v1/apply body, encoded by the host, decoded by the node."""

from __future__ import annotations

import json

import pytest

from localsvc.model.applywire import BadRequest, decode_apply, encode_apply
from localsvc.model.load import Manifest
from localsvc.node.applybody import parse_apply


def _manifests() -> list[Manifest]:
    return [
        Manifest(obj={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                      "data": {"k": "é ]\n"}},
                 file="k8s/a.yaml", line=3, lines={"metadata.name": 5, "data.k": 7}),
        Manifest(obj={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                      "spec": {"ports": [{"port": 80}]}},
                 file="-", line=1, lines={}),
    ]


@pytest.mark.parametrize("prune", [True, False])
def test_what_the_host_encodes_the_node_decodes_unchanged(prune: bool) -> None:
    raw = json.dumps(encode_apply(_manifests(), prune=prune)).encode()
    manifests, decoded_prune = decode_apply(raw)
    assert decoded_prune is prune
    assert manifests == _manifests()
    # `lines` does not take part in Manifest equality: compare it on its own
    assert [dict(m.lines) for m in manifests] == [dict(m.lines) for m in _manifests()]


def test_the_empty_prune_body_of_stop_decodes_to_no_manifests() -> None:
    assert decode_apply(json.dumps(encode_apply([], prune=True)).encode()) == ([], True)


def test_the_node_validates_what_it_decodes() -> None:
    raw = json.dumps(encode_apply(_manifests(), prune=False)).encode()
    manifests, prune = parse_apply(raw)
    assert [m.name for m in manifests] == ["a", "web"] and prune is False


def test_a_body_that_is_not_an_apply_names_what_is_wrong() -> None:
    with pytest.raises(BadRequest, match="not JSON"):
        decode_apply(b"\xff{")
    with pytest.raises(BadRequest, match=r'the body must be \{"manifests"'):
        decode_apply(b'{"manifest": []}')
    with pytest.raises(BadRequest, match=r"manifests\[0\]: "):
        decode_apply(b'{"manifests": [{"obj": {}, "line": "three"}]}')

