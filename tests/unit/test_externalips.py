"""localsvc.model.externalips: which spec.externalIPs this machine answers on."""

from __future__ import annotations

from localsvc.model.externalips import local_external_ips


def test_loopback_and_the_host_address_are_local_others_are_not() -> None:
    spec = {"externalIPs": ["127.0.0.2", "192.0.2.9", "10.1.2.3", "::1"]}
    assert local_external_ips(spec, "10.1.2.3") == ["127.0.0.2", "10.1.2.3", "::1"]


def test_unparsable_entries_and_a_missing_list_give_nothing() -> None:
    assert local_external_ips({"externalIPs": ["not-an-ip", 5]}, "127.0.0.1") == []
    assert local_external_ips({}, "127.0.0.1") == []
    assert local_external_ips({"externalIPs": None}, "127.0.0.1") == []
