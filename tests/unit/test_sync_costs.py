"""What keeps a sync cheap with thousands of stored objects: the State's index by kind (kept in
step by every change of the objects table), the claims' early-out with no claims, and the
memoised check of an Ingress TLS pair; the CronJobs' cascade looks at Jobs only after a change."""

from __future__ import annotations

import copy
import datetime
import pickle
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
import pytest

from localsvc.node import madeobjects
from localsvc.node.ingresscerts import pair_problem
from localsvc.node.objecttable import ObjectTable
from localsvc.node.store import PodRecord, State
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]


def obj(kind: str, name: str) -> Obj:
    return {"kind": kind, "metadata": {"name": name, "namespace": "default"}}


def scanned(objects: dict[str, Obj], kind: str) -> dict[str, Obj]:
    return {k: o for k, o in objects.items() if k.startswith(kind + "/")}


def assert_index_matches(table: ObjectTable) -> None:
    for kind in {k.split("/", 1)[0] for k in table} | {"Missing"}:
        assert dict(table.of_kind(kind)) == scanned(table, kind)
        assert list(table.of_kind(kind)) == list(scanned(table, kind))  # same order


def test_index_follows_every_change_of_the_table() -> None:
    table = ObjectTable({"ConfigMap/default/a": obj("ConfigMap", "a")})
    table["Job/default/j"] = obj("Job", "j")
    table["Job/default/k"] = obj("Job", "k")
    table["Job/default/j"] = replaced = obj("Job", "j2")
    assert table.of_kind("Job")["Job/default/j"] is replaced
    del table["ConfigMap/default/a"]
    assert table.pop("Job/default/k")["metadata"]["name"] == "k"
    assert table.pop("Job/default/k", None) is None
    table.update({"Secret/default/s": obj("Secret", "s")}, **{"Pod/default/p": obj("Pod", "p")})
    table |= {"Pod/default/q": obj("Pod", "q")}
    table.setdefault("Pod/default/r", obj("Pod", "r"))
    assert_index_matches(table)
    key, _ = table.popitem()
    assert key == "Pod/default/r" and "Pod/default/r" not in table.of_kind("Pod")
    assert dict(table.of_kind("ConfigMap")) == {}
    for copied in (copy.deepcopy(table), copy.copy(table), pickle.loads(pickle.dumps(table))):
        assert isinstance(copied, ObjectTable)
        assert_index_matches(copied)
        copied["Pod/default/new"] = obj("Pod", "new")
        assert_index_matches(copied)
        assert "Pod/default/new" not in table.of_kind("Pod")  # not shared with the original
    table.clear()
    assert dict(table.of_kind("Pod")) == {} and not table


def test_state_indexes_whatever_table_is_assigned() -> None:
    state = State(objects={"Job/default/j": obj("Job", "j")})
    assert isinstance(state.objects, ObjectTable)
    assert state.objects_of("Job") == [obj("Job", "j")]
    state.objects = {"CronJob/default/c": obj("CronJob", "c")}
    assert isinstance(state.objects, ObjectTable)
    assert state.objects_of("Job") == [] and state.objects_of("CronJob") == [obj("CronJob", "c")]
    assert State().objects_of("Job") == []


def config_map(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"a": "b"}}


def test_applies_prunes_and_deletes_keep_the_index(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(config_map("a"), config_map("b")), prune=False)
    node.apply(manifests(config_map("b"), config_map("c")), prune=True)  # a staged apply
    assert sorted(o["metadata"]["name"] for o in node.state.objects_of("ConfigMap")) == ["b", "c"]
    node.delete(["ConfigMap/default/b"])
    assert [o["metadata"]["name"] for o in node.state.objects_of("ConfigMap")] == ["c"]
    assert node.state.objects_of("ConfigMap") == list(scanned(node.state.objects,
                                                              "ConfigMap").values())
    reloaded = controller(tmp_path)  # the saved state, loaded and defaulted again
    assert [o["metadata"]["name"] for o in reloaded.state.objects_of("ConfigMap")] == ["c"]


def test_kind_lookups_do_not_grow_with_other_kinds(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(*[config_map(f"c{i}") for i in range(3000)]), prune=False)
    started = time.perf_counter()
    for _ in range(100):
        for step in node.workload_steps:
            node.state.objects_of(step.kind)
    # A scan of 3000 keys per kind took ~0.8 ms per round; the index takes microseconds.
    assert (time.perf_counter() - started) / 100 < 0.0002


def test_no_claims_means_no_scan_of_the_pods(tmp_path: Path) -> None:
    node = controller(tmp_path)
    for i in range(300):
        node.state.pods[f"default/p{i}"] = PodRecord(obj={
            "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"},
            "spec": {"containers": [{"name": "c", "image": "x"}]}})

    def scan_of_the_pods() -> set[tuple[str, str]]:
        raise AssertionError("the pods' volumes were scanned with no claim stored")

    node._claims_in_use = scan_of_the_pods  # type: ignore[method-assign]
    node.claim_table_changed = True
    assert node._sync_claims() is True  # a pending change of the table is still reported
    assert node._sync_claims() is False
    assert node._publish_storage() == []  # nothing new since the node's first publish
    assert node.objects.get("StorageClass//standard") is not None


def rsa_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "memo.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_a_tls_pair_is_checked_once() -> None:
    crt, key = rsa_pair()
    assert pair_problem(crt, key) is None
    hits = pair_problem.cache_info().hits
    started = time.perf_counter()
    for _ in range(20):  # each readiness flip or apply asks again
        assert pair_problem(bytes(crt), bytes(key)) is None  # equal bytes, other objects
    assert pair_problem.cache_info().hits == hits + 20
    assert time.perf_counter() - started < 0.05  # one RSA-2048 check alone takes ~0.1 s
    other_crt, _ = rsa_pair()
    assert pair_problem(other_crt, key) == "tls.key is not the private key of tls.crt"


def test_the_cronjob_cascade_scans_jobs_only_after_a_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests(*[{"apiVersion": "batch/v1", "kind": "Job",
                            "metadata": {"name": f"j{i}", "namespace": "default"},
                            "spec": {"suspend": True, "template": {"spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "x"}]}}}}
                           for i in range(50)]), prune=False)
    read: list[str] = []
    real = madeobjects.owner_uids

    def counting(job: Obj) -> list[str]:
        read.append(job["metadata"]["name"])
        return real(job)

    monkeypatch.setattr(madeobjects, "owner_uids", counting)
    for _ in range(3):  # the sync of the apply looked already
        node.collect_orphans()
    assert read == []  # (every sync parsed every Job's ownerReferences)
    node.delete(["Job/default/j0"])  # a change (its sync looks again)
    assert sorted(set(read)) == sorted(f"j{i}" for i in range(1, 50))
    read.clear()
    node.collect_orphans()
    assert read == []
