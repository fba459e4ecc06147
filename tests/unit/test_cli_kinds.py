"""The CLI's resource-type lists (get's help, KNOWN, `get all`, scale) and `down --all`'s
report of the volumes it kept."""

from __future__ import annotations

import pytest

from localsvc.errors import LocalsvcError


def test_down_all_says_how_to_remove_kept_volumes_once() -> None:
    """Regression: `down --all` printed the `--volumes` hint after every environment."""
    from localsvc.host.keptclaims import kept_note, remove_hint

    kept = {"a": ["localsvc-a-data"], "b": [], "c": ["localsvc-c-x", "localsvc-c-w"]}
    text = "".join(kept_note(env, names, hint=False) for env, names in kept.items())
    text += remove_hint(kept, "--all ")
    assert text.count("remove them with") == 1
    assert text.endswith("remove them with `localsvc down --all --volumes` (or `docker volume "
                         "rm NAME`)\n")
    assert "kept 2 volumes with the data of PersistentVolumeClaims (the next `up` of c binds " \
           "the claims to them again):\n  localsvc-c-w\n  localsvc-c-x\n" in text
    assert remove_hint({"b": []}, "--all ") == "" and kept_note("b", []) == ""
    assert kept_note("a", ["localsvc-a-data"]).endswith(
        "  localsvc-a-data\nremove them with `localsvc down --env a --volumes` (or `docker "
        "volume rm NAME`)\n")  # one environment's note (down, a stopped `up`) says how


def test_kind_lists_come_from_the_api_resource_table() -> None:
    """Regression: get's help omitted sts/jobs/cj/ds/ing/pvc and said `all (pods, services,
    deployments)`; scale and url had their own alias tables."""
    from localsvc.host.commands.parser import KINDS_HELP
    from localsvc.host.commands.resources import KNOWN, scalable_kind
    from localsvc.model.kubeapi.resources import RESOURCES

    for resource in RESOURCES:
        assert resource.plural in KINDS_HELP and resource.plural in KNOWN
        for short in resource.short_names:
            assert f"{resource.plural}|{short}" in KINDS_HELP
            assert f"{resource.plural} ({short})" in KNOWN
    assert KINDS_HELP.endswith("all (pods, services, daemonsets, deployments, replicasets, "
                               "statefulsets, cronjobs, jobs)")
    assert [scalable_kind(k) for k in ("deploy", "sts", "statefulsets", "rs", "svc")] == [
        "Deployment", "StatefulSet", "StatefulSet", None, None]
    with pytest.raises(LocalsvcError, match='unknown resource type "dep"'):
        scalable_kind("dep")
