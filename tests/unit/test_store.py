"""The node's state file: atomic, durable saves; a corrupt file is quarantined, never lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from localsvc.node.store import (
    PodRecord,
    State,
    StateFileError,
    Store,
    parse_state,
    quarantine_name,
)

SERVICE = {"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"port": 80}]}}
POD = {"kind": "Pod", "metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": {}}


def saved_state() -> State:
    return State(objects={"Service/default/web": SERVICE}, sources={},
                 pods={"default/p": PodRecord(obj=POD, created=1.0)},
                 allocations={"clusterIPs": {"default/web": "10.9.128.5"}})


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save(saved_state())
    loaded = Store(tmp_path).load()
    assert loaded.objects == {"Service/default/web": SERVICE}
    assert loaded.pods["default/p"].uid == "u1"
    assert loaded.allocations["clusterIPs"] == {"default/web": "10.9.128.5"}
    assert sorted(os.listdir(tmp_path)) == ["state.json"]  # no temp file left behind


@pytest.mark.parametrize("text", [
    '{"objects": {"Service/default/web": ',  # truncated mid-write by something else
    "\x00\x00\x00",  # zeroed blocks after a crash without fsync
    "[]",
    '{"objects": []}',
    '{"objects": {"Service/default/web": {"kind": "Pod", "metadata": {"name": "web"}}}}',
    '{"pods": {"default/p": {"obj": {"metadata": {}}}}}',
    '{"resourceVersion": "12"}',
    '{"resourceVersion": -1}',
])
def test_corrupt_file_is_quarantined_and_the_node_starts_empty(tmp_path: Path, text: str) -> None:
    (tmp_path / "state.json").write_text(text)
    store = Store(tmp_path)
    state = store.load()
    assert state.objects == {} and state.pods == {}
    copies = [p for p in os.listdir(tmp_path) if p.startswith("state.json.corrupt-")]
    assert len(copies) == 1
    assert (tmp_path / copies[0]).read_text() == text  # the bytes are kept, untouched
    assert not (tmp_path / "state.json").exists()
    assert str(tmp_path / copies[0]) in store.load_error
    # The next save starts a fresh file and leaves the copy alone.
    store.save(saved_state())
    assert Store(tmp_path).load().objects == {"Service/default/web": SERVICE}
    assert (tmp_path / copies[0]).read_text() == text


def test_a_readable_file_sets_no_error(tmp_path: Path) -> None:
    Store(tmp_path).save(saved_state())
    store = Store(tmp_path)
    store.load()
    assert store.load_error == ""


def test_parse_state_names_the_bad_entry() -> None:
    with pytest.raises(StateFileError, match=r'objects\["Service/default/x"\]'):
        parse_state(json.dumps({"objects": {"Service/default/x": {"kind": "Service"}}}))
    with pytest.raises(StateFileError, match="not valid JSON"):
        parse_state("{")


def test_quarantine_name_is_beside_the_file_with_utc_time() -> None:
    assert quarantine_name(Path("/v/state.json"), 0.0) == Path(
        "/v/state.json.corrupt-19700101T000000Z")


def test_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save(saved_state())
    before = (tmp_path / "state.json").read_text()
    broken = saved_state()
    broken.objects["ConfigMap/default/c"] = {"kind": "ConfigMap", "metadata": {"name": "c"},
                                             "data": {"x": object()}}  # not JSON-serialisable
    with pytest.raises(TypeError):
        store.save(broken)
    assert (tmp_path / "state.json").read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_save_fsyncs_the_directory_after_the_rename(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Observes the real calls (nothing is replaced): the directory is fsynced after os.replace.
    calls: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    Store(tmp_path).save(saved_state())
    assert calls == ["fsync-file", "replace", "fsync-dir"]


def test_writes_happen_in_the_order_states_were_submitted(tmp_path: Path) -> None:
    store = Store(tmp_path)
    states = []
    for n in range(20):
        state = saved_state()
        state.objects[f"ConfigMap/default/c{n}"] = {"kind": "ConfigMap",
                                                   "metadata": {"name": f"c{n}"}}
        states.append(state)
    futures = [store.submit(s) for s in states]  # none waited for: all queued at once
    for future in futures:
        future.result(timeout=30)
    assert "ConfigMap/default/c19" in Store(tmp_path).load().objects
    assert store.submitted == 20


def test_a_replaced_object_is_written_anew(tmp_path: Path) -> None:
    store = Store(tmp_path)
    state = saved_state()
    store.save(state)
    state.objects["Service/default/web"] = {**SERVICE, "spec": {"ports": [{"port": 81}]}}
    store.save(state)
    loaded = Store(tmp_path).load().objects["Service/default/web"]
    assert loaded["spec"]["ports"] == [{"port": 81}]


def test_the_resource_version_counter_round_trips_and_never_goes_back(tmp_path: Path) -> None:
    from localsvc.node.objectstore import ObjectStore
    state = saved_state()
    objects = ObjectStore()
    for port in (80, 81, 82):
        objects.put("Service/default/web", {**SERVICE, "spec": {"ports": [{"port": port}]}})
    state.resource_version = objects.resource_version
    Store(tmp_path).save(state)
    loaded = Store(tmp_path).load()
    assert loaded.resource_version == 3
    restarted = ObjectStore(loaded.resource_version)
    restarted.restore(loaded.objects)
    event = restarted.put("Service/default/web", {**SERVICE, "spec": {"ports": [{"port": 1}]}})
    assert event and event.resource_version == 4


def test_a_state_file_from_before_the_counter_loads_at_zero(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"version": 1, "objects": {}}')
    assert Store(tmp_path).load().resource_version == 0
