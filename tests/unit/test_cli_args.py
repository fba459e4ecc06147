"""The command line, parsed only (no Docker): argument forms of every command, and the rules
that pick the environment, the objects and the pods a command means."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from localsvc.host import cli
from localsvc.host.commands.argv import split_command
from localsvc.host.commands.common import UsageError, target_environment
from localsvc.host.commands.logs import (
    LogOptions,
    Stream,
    effective_tail,
    follows_by_default,
    init_container_done,
    prefix_of,
    streams_of,
)
from localsvc.host.commands.logtime import parse_duration, parse_rfc3339, since_of
from localsvc.host.commands.podcmds import local_addresses
from localsvc.host.commands.podtargets import owner_selector, pick_pod, split_target
from localsvc.host.commands.resources import Request, parse_requests
from localsvc.errors import LocalsvcError

ROOT = Path(__file__).resolve().parents[2]


# ---- exec and logs: flags before or after the pod; the command after `--` (regression) ------

@pytest.mark.parametrize(
    "argv",
    [
        ["exec", "web", "-c", "app", "--", "ls", "-l"],
        ["exec", "-c", "app", "web", "--", "ls", "-l"],
        ["exec", "web", "--container", "app", "--", "ls", "-l"],
        ["exec", "web", "--container=app", "--", "ls", "-l"],
    ],
)
def test_exec_container_flag_before_or_after_the_pod(argv: list[str]) -> None:
    args = cli.parse(argv)
    assert (args.pod, args.container, args.exec_command) == ("web", "app", ["ls", "-l"])


def test_exec_namespace_after_the_pod_as_the_readme_writes_it() -> None:
    args = cli.parse(["exec", "web", "-n", "shop", "--", "sh", "-c", "echo -n -c --"])
    assert (args.pod, args.namespace) == ("web", "shop")
    assert args.exec_command == ["sh", "-c", "echo -n -c --"]  # only the first -- splits


def test_exec_flags_of_the_command_stay_the_commands() -> None:
    args = cli.parse(["--env", "dev", "exec", "-it", "deploy/web", "--", "python3", "-i", "-c", "x"])
    assert (args.env, args.pod, args.stdin, args.tty) == ("dev", "deploy/web", True, True)
    assert args.container is None and args.exec_command == ["python3", "-i", "-c", "x"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["exec", "web"], "exec needs a command after --"),
        (["exec", "web", "--"], "exec needs a command after --"),
        (["exec"], "exec needs a pod and a command"),
        (["exec", "web", "ls"], "put the command after --: localsvc exec web -- ls"),
    ],
)
def test_exec_without_a_command_is_a_usage_error(argv: list[str], message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "usage:" not in err  # says what is missing, not the whole help


@pytest.mark.parametrize(
    "argv",
    [
        ["logs", "web", "-c", "app", "-n", "shop", "-f"],
        ["logs", "-c", "app", "-n", "shop", "web", "-f"],
        ["logs", "-f", "web", "--container", "app", "--namespace=shop"],
    ],
)
def test_logs_flags_before_or_after_the_pod(argv: list[str]) -> None:
    args = cli.parse(argv)
    assert (args.target, args.container, args.namespace, args.follow) == ("web", "app", "shop", True)


def test_logs_forms() -> None:
    args = cli.parse(["logs", "-l", "app=web,tier in (a,b)", "--all-containers", "--since=5m",
                      "--timestamps", "--tail", "3"])
    assert args.target is None and args.selector == "app=web,tier in (a,b)"
    assert (args.all_containers, args.since, args.timestamps, args.tail) == (True, "5m", True, 3)
    assert cli.parse(["logs"]).target is None  # every pod of the environment
    assert cli.parse(["logs", "deploy/web", "--since-time", "2026-12-07T03:00:00Z"]).since_time


def test_bare_logs_follows_on_a_terminal_only() -> None:
    assert follows_by_default(cli.parse(["logs"]), interactive=True)
    assert not follows_by_default(cli.parse(["logs"]), interactive=False)  # CI, pipes
    assert not follows_by_default(cli.parse(["logs", "web"]), interactive=True)
    assert not follows_by_default(cli.parse(["logs", "-l", "app=web"]), interactive=True)


def test_split_command_only_for_exec() -> None:
    assert split_command(["-e", "x", "exec", "p", "--", "a"]) == (["-e", "x", "exec", "p"], ["a"])
    assert split_command(["exec", "p"]) == (["exec", "p"], None)
    assert split_command(["get", "--", "pods"]) == (["get", "--", "pods"], None)
    assert split_command(["--env", "exec", "get", "pods"]) == (["--env", "exec", "get", "pods"], None)


# ---- get / delete: objects named ------------------------------------------------------------

def test_get_forms_parse() -> None:
    assert parse_requests(["pods"], "get").items == (Request("Pod"),)
    several = parse_requests(["po,svc,deploy"], "get")
    assert [r.kind for r in several.items] == ["Pod", "Service", "Deployment"] and several.show_kind
    everything = parse_requests(["all"], "get")
    assert [r.kind for r in everything.items] == [  # kubectl's: category "all", API order
        "Pod", "Service", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "CronJob", "Job"]
    assert everything.show_kind
    named = parse_requests(["deploy", "a", "b"], "get")
    assert named.items == (Request("Deployment", ("a", "b")),) and not named.show_kind
    slash = parse_requests(["pod/a", "svc/b", "pods/c"], "get")
    assert slash.items == (Request("Pod", ("a", "c")), Request("Service", ("b",)))
    assert slash.show_kind and slash.named
    assert not parse_requests(["deployment.apps/web".replace(".apps", "")], "get").show_kind


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "get needs a resource type"),
        (["pods,svc", "web"], "need a single resource type"),
        (["pod/a", "b"], "must all be KIND/NAME"),
        (["pods", "svc/b"], "no need to specify a resource type"),
    ],
)
def test_get_form_errors(words: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_requests(words, "get")


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(LocalsvcError, match='unknown resource type "hpa"; localsvc knows pods'):
        parse_requests(["hpa"], "get")


def test_get_and_delete_flags() -> None:
    args = cli.parse(["get", "pods", "-l", "!canary", "--show-labels", "--no-headers", "-o", "wide"])
    assert (args.selector, args.show_labels, args.no_headers, args.output) == (
        "!canary", True, True, "wide")
    args = cli.parse(["delete", "pods", "--all", "-n", "shop"])
    assert (args.resources, args.all, args.namespace) == (["pods"], True, "shop")
    assert cli.parse(["delete", "deploy", "-l", "app=web", "-A"]).all_namespaces


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["delete"], "delete needs what to delete"),
        (["delete", "pods"], "delete needs what to delete"),
        (["delete", "pod", "a", "--all"], "names cannot be given together with -l or --all"),
        (["get", "pod", "a", "-l", "x=y"], "names cannot be given together with a selector"),
    ],
)
def test_object_command_usage_errors(argv: list[str], message: str,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # An environment name is given so that no localsvc.yaml is looked up.
    monkeypatch.setenv("LOCALSVC_ENV", "unit-never-created")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # never reached
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "apply", "delete"])
def test_stdin_manifests_pass_through(command: str) -> None:
    assert cli.parse([command, "-f", "-"]).filename == ["-"]


# ---- which environment --------------------------------------------------------------------

def test_every_command_targets_the_environment_by_one_rule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--env, then $LOCALSVC_ENV, then localsvc.yaml's environment (from a subdirectory too)."""
    (tmp_path / ".git").mkdir()  # the repository root: the walk up stops here
    (tmp_path / "localsvc.yaml").write_text("environment: from-file\nmanifests: [k8s]\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "dir")
    monkeypatch.delenv("LOCALSVC_ENV", raising=False)
    for argv in (["get", "pods"], ["logs"], ["exec", "p", "--", "x"], ["down"], ["status"],
                 ["delete", "pods", "--all"], ["port-forward", "svc/a", "80"], ["apply"]):
        assert target_environment(cli.parse(argv)) == "from-file", argv
    monkeypatch.setenv("LOCALSVC_ENV", "from-var")
    assert target_environment(cli.parse(["get", "pods"])) == "from-var"
    assert target_environment(cli.parse(["get", "pods", "-e", "from-flag"])) == "from-flag"


def test_env_flag_before_or_after_the_command() -> None:
    assert cli.parse(["-e", "a", "get", "pods"]).env == "a"
    assert cli.parse(["get", "pods", "--env", "b"]).env == "b"
    assert cli.parse(["get", "pods"]).env is None


# ---- pods a command means -----------------------------------------------------------------

def _pod(name: str, ready: bool, phase: str = "Running", created: str = "2026-01-01T00:00:00Z",
         terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if terminating:
        meta["deletionTimestamp"] = created
    return {"metadata": meta, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_pick_pod_prefers_ready_running_older() -> None:
    pods = [_pod("c", False), _pod("b", True, created="2026-01-02T00:00:00Z"),
            _pod("a", True, terminating=True), _pod("d", True)]
    assert pick_pod(pods)["metadata"]["name"] == "d"  # type: ignore[index]
    assert pick_pod([_pod("p", False, "Pending"), _pod("r", False)])["metadata"]["name"] == "r"  # type: ignore[index]
    assert pick_pod([_pod("x", True, terminating=True)]) is None


def test_split_target() -> None:
    assert split_target("web-1") == ("Pod", "web-1")
    assert split_target("pod/web-1") == ("Pod", "web-1")
    assert split_target("deploy/web") == ("Deployment", "web")
    assert split_target("svc/web") == ("Service", "web")
    assert split_target("sts/db") == ("StatefulSet", "db")
    with pytest.raises(LocalsvcError, match="pod commands take"):
        split_target("cm/x")


def test_owner_selector() -> None:
    deploy = {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
    assert owner_selector("Deployment", deploy).matches({"app": "web"})  # type: ignore[union-attr]
    assert owner_selector("Service", {"spec": {"selector": {"app": "db"}}}).matches({"app": "db"})  # type: ignore[union-attr]
    assert owner_selector("Service", {"spec": {}}) is None  # selector-less: no pods


def test_streams_and_prefix() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "a"}, {"name": "b"}]}}
    assert streams_of([pod], None, False) == [Stream("ns", "p", "a")]
    assert streams_of([pod], "b", False) == [Stream("ns", "p", "b")]
    assert streams_of([pod], "other", False) == []  # -l/bare with -c: pods without it are skipped
    assert [s.container for s in streams_of([pod], None, True)] == ["init", "a", "b"]
    assert prefix_of(Stream("ns", "p", "a")) == b"[pod/p/a] "


def test_log_options_apply_since_and_tail_to_the_first_container_only() -> None:
    options = LogOptions(since=100.0, tail=5, timestamps=True)
    assert options.docker_kwargs(first=True) == {"stdout": True, "stderr": True,
                                                 "timestamps": True, "since": 100.0, "tail": 5}
    assert options.docker_kwargs(first=False) == {"stdout": True, "stderr": True, "timestamps": True}


def test_a_follower_of_a_succeeded_init_container_stops() -> None:
    def pod(state: dict[str, Any]) -> dict[str, Any]:
        return {"status": {"initContainerStatuses": [{"name": "init", "state": state}]}}

    assert init_container_done(pod({"terminated": {"exitCode": 0}}), "init")
    assert not init_container_done(pod({"terminated": {"exitCode": 1}}), "init")  # retried
    assert not init_container_done(pod({"running": {}}), "init")
    assert not init_container_done(pod({"terminated": {"exitCode": 0}}), "app")


def test_tail_defaults_to_ten_with_a_selector_as_kubectl() -> None:
    assert effective_tail(None, selector=False) is None
    assert effective_tail(None, selector=True) == 10
    assert effective_tail(3, selector=True) == 3
    assert "tail" not in LogOptions(tail=-1).docker_kwargs(first=True)  # -1: the whole log


@pytest.mark.parametrize(("text", "seconds"),
                         [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("250ms", 0.25)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "5m3"])
def test_parse_duration_errors(text: str) -> None:
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


def test_since_time_and_exclusivity() -> None:
    assert parse_rfc3339("1970-01-01T00:01:00Z") == 60
    assert parse_rfc3339("1970-01-01T01:00:00.5+01:00") == 0.5
    assert parse_rfc3339("2026-12-07T03:00:00.123456789Z") == pytest.approx(1796612400.123456)
    with pytest.raises(UsageError, match="not an RFC 3339 time"):
        parse_rfc3339("2026-12-07 03:00")  # no zone
    assert since_of("1m", None, now=1000.0) == 940.0
    assert since_of(None, None, now=1000.0) is None
    with pytest.raises(UsageError, match="cannot be used together"):
        since_of("1m", "1970-01-01T00:01:00Z", now=0)


# ---- port-forward -------------------------------------------------------------------------

def test_port_forward_forms() -> None:
    args = cli.parse(["port-forward", "deploy/web", "8080:80", ":9090", "--address",
                      "localhost,0.0.0.0"])
    assert (args.target, args.ports, args.address) == ("deploy/web", ["8080:80", ":9090"],
                                                        "localhost,0.0.0.0")
    assert local_addresses(args.address) == ["127.0.0.1", "0.0.0.0"]
    assert local_addresses("127.0.0.1,localhost") == ["127.0.0.1"]
    with pytest.raises(UsageError, match="empty address"):
        local_addresses("127.0.0.1,")


# ---- version, completion, import ----------------------------------------------------------

def test_version_flag_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.parse(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("localsvc ")
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.startswith("localsvc ")


def _localsvc_bin() -> str:
    return str(Path(sys.executable).parent / "localsvc")


def test_bash_completion_completes_a_subcommand() -> None:
    """The script `localsvc completion bash` prints, run by bash as a user's shell would."""
    script = subprocess.run([_localsvc_bin(), "completion", "bash"], capture_output=True,
                            text=True, timeout=30, check=True).stdout
    driver = script + """
COMP_LINE="localsvc por"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(localsvc por); COMP_CWORD=1
_python_argcomplete localsvc por localsvc
echo "reply:${COMPREPLY[*]}"
"""
    environ = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    result = subprocess.run(["bash", "-c", driver], capture_output=True, text=True, timeout=30,
                            env=environ)
    assert "reply:port-forward" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_scripts_for_other_shells(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    assert "localsvc" in capsys.readouterr().out


def test_import_localsvc_is_cheap_and_environment_importable() -> None:
    code = ("import sys, localsvc; assert 'localsvc.host.api' not in sys.modules; "
            "assert 'docker' not in sys.modules; from localsvc import Environment; "
            "assert Environment.__module__ == 'localsvc.host.api'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30, cwd=ROOT)


def test_up_takes_a_lan_host_address_from_localsvc_yaml_only_with_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from localsvc.host.commands.common import find_project

    (tmp_path / ".git").mkdir()
    (tmp_path / "localsvc.yaml").write_text("environment: shop\nhostAddress: 0.0.0.0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LocalsvcError, match="pass --host-address 0.0.0.0"):
        find_project(allow_public_host_address=False)
    project = find_project(allow_public_host_address=True)
    assert project is not None and project.host_address == "0.0.0.0"
    # Commands other than `up` only need the environment's name: the file still names it.
    assert target_environment(cli.parse(["get", "pods"])) == "shop"


def test_down_keeps_the_claims_data_unless_volumes_is_given_as_compose() -> None:
    assert cli.parse(["down"]).volumes is False
    assert cli.parse(["down", "-v"]).volumes is True
    assert cli.parse(["down", "--all", "--volumes"]).volumes is True
