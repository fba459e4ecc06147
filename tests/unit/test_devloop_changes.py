"""What a batch of file changes means to `localsvc up` (devloop/changes.py). Pure apart from
real files under tmp_path (a manifest root is a directory or a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsvc.host.devloop.changes import is_manifest, plan_changes
from localsvc.model.load import find_manifest_files
from localsvc.model.project import ImageBuild, Project, SyncRule


def image(name: str, context: Path, *sync: tuple[str, str]) -> ImageBuild:
    return ImageBuild(name=name, context=context, dockerfile="Dockerfile", args={}, target=None,
                      sync=tuple(SyncRule(context / src, dest) for src, dest in sync))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for d in ("k8s/sub", "k8s/.hidden", "web/src/static", "web/src/app", "api"):
        (tmp_path / d).mkdir(parents=True)
    return tmp_path


@pytest.fixture
def project(tree: Path) -> Project:
    web = image("web", tree / "web", ("src/static", "/srv/static"), ("src/app", "/srv/app"))
    return Project(path=tree / "localsvc.yaml", environment=None, manifests=(tree / "k8s",),
                   host_address=None, cluster_domain=None, images=(web, image("api", tree / "api")))


def test_nothing_changed_asks_for_nothing(tree: Path, project: Project) -> None:
    plan = plan_changes([], [tree / "k8s"], project)
    assert (plan.reapply, plan.project_file, plan.syncs, plan.rebuilds) == (False, False, [], [])


@pytest.mark.parametrize(("relative", "expected"), [
    ("k8s/app.yaml", True),
    ("k8s/app.yml", True),
    ("k8s/app.json", True),
    ("k8s/sub/deep.yaml", True),
    ("k8s/App.YAML", True),  # the loader reads it: an edit must re-apply it
    ("k8s/notes.txt", False),
    ("k8s/.app.yaml", False),  # an editor's hidden copy
    ("k8s/.hidden/old.yaml", False),  # the loader does not walk hidden directories
    ("k8s/app.yaml~", False),
    ("k8s", False),  # the directory itself
    ("web/config.yaml", False),  # YAML, but not under a manifest root
])
def test_manifest_files_are_what_the_loader_reads(tree: Path, relative: str, expected: bool) -> None:
    path = tree / relative
    assert is_manifest(path, [tree / "k8s"]) is expected
    if relative.startswith("k8s/"):  # and the loader agrees
        path.write_text("{}\n")
        assert (str(path) in find_manifest_files(str(tree / "k8s"))) is expected


def test_a_manifest_root_that_is_a_file_means_only_that_file(tree: Path) -> None:
    one = tree / "k8s" / "app.yaml"
    one.write_text("{}\n")
    assert is_manifest(one, [one])
    assert not is_manifest(tree / "k8s" / "other.yaml", [one])


def test_a_manifest_reached_through_a_symlink_counts(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "k8s")
    assert is_manifest(tree / "link" / "app.yaml", [tree / "k8s"])
    assert is_manifest(tree / "k8s" / "app.yaml", [tree / "link"])


def test_a_deleted_manifest_directory_still_counts(tmp_path: Path) -> None:
    # Removing the whole directory reports paths below a root that no longer exists.
    assert is_manifest(tmp_path / "gone" / "app.yaml", [tmp_path / "gone"])


def test_the_project_file_asks_for_a_restart_not_a_reapply(tree: Path, project: Project) -> None:
    # Even when the manifest root is the project's own directory, where localsvc.yaml is YAML.
    plan = plan_changes([tree / "localsvc.yaml"], [tree], project)
    assert plan.project_file and not plan.reapply


def test_manifest_changes_reapply_once(tree: Path, project: Project) -> None:
    plan = plan_changes([tree / "k8s/a.yaml", tree / "k8s/sub/b.yaml"], [tree / "k8s"], project)
    assert plan.reapply and plan.syncs == [] and plan.rebuilds == []


def test_files_under_one_sync_rule_are_copied(tree: Path, project: Project) -> None:
    files = [tree / "web/src/static/a.css", tree / "web/src/static/img/b.png"]
    plan = plan_changes(files, [tree / "k8s"], project)
    web = project.images[0]
    assert plan.syncs == [(web, web.sync[0], files)]
    assert plan.rebuilds == []


def test_a_file_outside_every_sync_rule_rebuilds_its_image(tree: Path, project: Project) -> None:
    plan = plan_changes([tree / "web/Dockerfile"], [tree / "k8s"], project)
    assert plan.rebuilds == [project.images[0]] and plan.syncs == []


def test_one_unsynced_file_makes_the_whole_image_rebuild(tree: Path, project: Project) -> None:
    plan = plan_changes([tree / "web/src/static/a.css", tree / "web/requirements.txt"],
                        [tree / "k8s"], project)
    assert plan.rebuilds == [project.images[0]] and plan.syncs == []


def test_files_of_two_sync_rules_rebuild(tree: Path, project: Project) -> None:
    # Only one rule's files are copied as a unit; two rules at once take the safe way.
    plan = plan_changes([tree / "web/src/static/a.css", tree / "web/src/app/main.py"],
                        [tree / "k8s"], project)
    assert plan.rebuilds == [project.images[0]] and plan.syncs == []


def test_each_image_is_decided_on_its_own(tree: Path, project: Project) -> None:
    plan = plan_changes([tree / "web/src/app/main.py", tree / "api/server.py",
                         tree / "api/util.py", tree / "k8s/a.yaml", tree / "README.md"],
                        [tree / "k8s"], project)
    web, api = project.images
    assert plan.syncs == [(web, web.sync[1], [tree / "web/src/app/main.py"])]
    assert plan.rebuilds == [api]  # once, for both of its files
    assert plan.reapply


def test_the_deepest_context_owns_a_file(tree: Path) -> None:
    outer = image("outer", tree)
    inner = image("inner", tree / "api")
    project = Project(path=tree / "localsvc.yaml", environment=None, manifests=(),
                      host_address=None, cluster_domain=None, images=(outer, inner))
    assert plan_changes([tree / "api/x.py"], [], project).rebuilds == [inner]
    assert plan_changes([tree / "web/x.py"], [], project).rebuilds == [outer]


def test_without_a_project_only_manifests_count(tree: Path) -> None:
    plan = plan_changes([tree / "web/x.py", tree / "localsvc.yaml", tree / "k8s/a.yaml"],
                        [tree / "k8s"], None)
    assert plan.reapply and not plan.project_file and plan.rebuilds == [] and plan.syncs == []
