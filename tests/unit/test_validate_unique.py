"""Duplicate names in one object (Check.unique): one wording for containers, volumes and the
ports of pods, Services and Endpoints, each naming where the name was first."""

from __future__ import annotations

from localsvc.model.load import load_text
from localsvc.model.validate import validate


def problems(text: str) -> list[str]:
    loaded = load_text(text, "t.yaml")
    assert loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


def test_endpoints_port_names_are_unique_in_a_subset() -> None:
    text = ("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets:\n"
            "- addresses: [{ip: 10.0.0.1}]\n"
            "  ports:\n  - {name: web, port: 80}\n  - {name: web, port: 81}\n")
    assert problems(text) == [
        't.yaml:8: Endpoints/e: subsets[0].ports[1].name: duplicate port name "web" '
        "(also at subsets[0].ports[0].name)"]


def test_a_name_used_three_times_names_the_first_each_time() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            "  - {name: c, image: busybox}\n  - {name: c, image: busybox}\n"
            "  - {name: c, image: busybox}\n")
    assert problems(text) == [
        f't.yaml:{line}: Pod/p: spec.containers[{i}].name: duplicate container name "c" '
        "(also at spec.containers[0].name); names must be unique in a pod"
        for line, i in ((7, 1), (8, 2))]
