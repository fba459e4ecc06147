"""Tests of localsvc.model.projectfind: which localsvc.yaml applies, which environment is used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localsvc.errors import ManifestError
from localsvc.model.project import (
    PROJECT_FILE,
    default_environment_name,
    find_project,
    search_directories,
    target_environment,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home directory inside a shared directory (tmp_path plays /tmp or /home)."""
    directory = tmp_path / "home" / "dev"
    directory.mkdir(parents=True)
    return directory


def test_walks_up_to_the_repository_root(tmp_path: Path, home: Path) -> None:
    repo = home / "shop"
    deep = repo / "web" / "src"
    deep.mkdir(parents=True)
    (repo / ".git").mkdir()
    assert find_project(deep, home) is None
    (repo / PROJECT_FILE).write_text("")
    assert find_project(deep, home) == repo / PROJECT_FILE
    assert find_project(repo, home) == repo / PROJECT_FILE
    (deep / PROJECT_FILE).mkdir()  # a directory of that name is not a project file
    assert find_project(deep, home) == repo / PROJECT_FILE
    (repo / "web" / PROJECT_FILE).write_text("")
    assert find_project(deep / ".." / "src", home) == repo / "web" / PROJECT_FILE


def test_a_file_above_the_repository_root_is_not_honoured(home: Path) -> None:
    repo = home / "work" / "shop"
    (repo / "src").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git is a file
    (home / "work" / PROJECT_FILE).write_text("environment: planted\n")
    assert find_project(repo / "src", home) is None
    assert search_directories(repo / "src", home) == [repo / "src", repo]


def test_the_walk_stops_at_the_home_directory(tmp_path: Path, home: Path) -> None:
    """Issue 10 case 9: a file planted above home (here in the shared parent) never applies."""
    (tmp_path / PROJECT_FILE).write_text("environment: planted\n")
    (home.parent / PROJECT_FILE).write_text("environment: planted\n")
    project = home / "notes" / "app"
    project.mkdir(parents=True)
    assert find_project(project, home) is None
    assert search_directories(project, home) == [project, project.parent, home]
    (home / PROJECT_FILE).write_text("environment: mine\n")
    assert find_project(project, home) == home / PROJECT_FILE
    assert find_project(home, home) == home / PROJECT_FILE


def test_outside_home_and_any_repository_only_the_directory_itself(
    tmp_path: Path, home: Path
) -> None:
    """A CI job in /tmp/build/app: a /tmp/localsvc.yaml (or /tmp/build/...) is not its project."""
    (tmp_path / PROJECT_FILE).write_text("environment: planted\n")
    job = tmp_path / "build" / "app"
    job.mkdir(parents=True)
    assert find_project(job, home) is None
    assert search_directories(job, home) == [job]
    (job / PROJECT_FILE).write_text("")
    assert find_project(job, home) == job / PROJECT_FILE


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_owned_by_another_user_is_ignored(home: Path) -> None:
    repo = home / "shop"
    (repo / ".git").mkdir(parents=True)
    (repo / PROJECT_FILE).write_text("environment: theirs\n")
    os.chown(repo / PROJECT_FILE, 4242, 4242)
    assert find_project(repo, home) is None
    os.chown(repo / PROJECT_FILE, 0, 0)
    assert find_project(repo, home) == repo / PROJECT_FILE


def test_default_home_is_the_users_home_directory(tmp_path: Path) -> None:
    """Without `home`, $HOME bounds the walk (checked in a process with its own HOME)."""
    home = tmp_path / "h"
    (home / "proj").mkdir(parents=True)
    (tmp_path / PROJECT_FILE).write_text("")
    script = "from pathlib import Path\nfrom localsvc.model.project import find_project\n" \
             "print(find_project(Path.cwd()))\n"
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], cwd=home / "proj", env=env,
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout == "None\n"


def test_target_environment_order(tmp_path: Path, home: Path) -> None:
    repo = home / "shop"
    src = repo / "src"
    src.mkdir(parents=True)
    (repo / ".git").mkdir()
    no_variable: dict[str, str] = {}
    # nothing names it: the default name of the current directory (no project file)
    assert target_environment(None, src, no_variable, home) == default_environment_name(src)
    # a project file without environment: the default name of the project's directory
    (repo / PROJECT_FILE).write_text("hostAddress: 0.0.0.0\n")  # only the name is read here
    assert target_environment(None, src, no_variable, home) == default_environment_name(repo)
    # the file's environment
    (repo / PROJECT_FILE).write_text("environment: shop-dev\n")
    assert target_environment(None, src, no_variable, home) == "shop-dev"
    # $LOCALSVC_ENV wins over the file, the flag over both
    assert target_environment(None, src, {"LOCALSVC_ENV": "from-var"}, home) == "from-var"
    assert target_environment("flag", src, {"LOCALSVC_ENV": "from-var"}, home) == "flag"


def test_target_environment_reports_a_broken_project_file(home: Path) -> None:
    repo = home / "shop"
    (repo / ".git").mkdir(parents=True)
    (repo / PROJECT_FILE).write_text("environment: [a\n")
    with pytest.raises(ManifestError) as caught:
        target_environment(None, repo, {}, home)
    assert [p.line for p in caught.value.problems] == [2]
