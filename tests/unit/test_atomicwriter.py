"""Tests of localsvc.model.atomicwriter: the kubelet's atomic-writer plan (timestamped directory,
visible links, what an update adds and removes, nothing when nothing changed)."""

from __future__ import annotations

from localsvc.model.atomicwriter import (
    WritePlan,
    Written,
    check_paths,
    plan_write,
    ts_dir_name,
    visible_names,
)

PAYLOAD = {"app.conf": (b"v1", 0o644), "conf/a": (b"a", 0o400), "conf/b": (b"b", 0o644)}


def test_timestamped_dir_name_is_the_kubelets() -> None:
    # 2026-12-07 12:00:00 UTC
    assert ts_dir_name(1796644800.5, "123456") == "..2026_12_07_12_00_00.123456"


def test_first_write_links_top_level_names() -> None:
    plan = plan_write(None, PAYLOAD, "..ts1")
    assert plan == WritePlan(ts_dir="..ts1", files=PAYLOAD, visible=("app.conf", "conf"),
                             remove=(), old_dir="")
    assert visible_names({}) == ()


def test_unchanged_payload_writes_nothing() -> None:
    assert plan_write(Written("..ts1", dict(PAYLOAD)), dict(PAYLOAD), "..ts2") is None


def test_changed_content_writes_a_new_dir_and_drops_the_old() -> None:
    new = {**PAYLOAD, "app.conf": (b"v2", 0o644)}
    plan = plan_write(Written("..ts1", PAYLOAD), new, "..ts2")
    assert plan is not None
    assert (plan.ts_dir, plan.old_dir, plan.remove) == ("..ts2", "..ts1", ())
    assert plan.files["app.conf"] == (b"v2", 0o644)


def test_removed_and_added_keys() -> None:
    plan = plan_write(Written("..ts1", PAYLOAD), {"app.conf": (b"v1", 0o644), "new": (b"n", 0o644)},
                      "..ts2")
    assert plan is not None
    assert plan.visible == ("app.conf", "new") and plan.remove == ("conf",)


def test_a_mode_change_is_a_change() -> None:
    assert plan_write(Written("..ts1", PAYLOAD), {**PAYLOAD, "conf/b": (b"b", 0o600)},
                      "..ts2") is not None


def test_volume_without_layout_is_written() -> None:
    # Adopted from a node that wrote flat files, or empty: the layout is made.
    plan = plan_write(Written(""), {}, "..ts2")
    assert plan is not None and plan.visible == () and plan.old_dir == ""


def test_optional_configmap_gone_removes_every_name() -> None:
    plan = plan_write(Written("..ts1", PAYLOAD), {}, "..ts2")
    assert plan is not None and plan.remove == ("app.conf", "conf") and plan.files == {}


def test_check_paths() -> None:
    assert check_paths(PAYLOAD) == ""
    assert check_paths({"..data/x": (b"", 0o644)}) != ""
    assert check_paths({"/abs": (b"", 0o644)}) != ""
    assert check_paths({"a/../b": (b"", 0o644)}) != ""
