"""The small pure helpers of the CLI commands (localsvc/host/commands/) that test_cli_args.py does
not reach: argv scanning, resource types, delete's grouping, containers of a pod, printing."""

from __future__ import annotations

import argparse
import pytest

from localsvc import __version__
from localsvc.host import cli
from localsvc.host.commands.argv import subcommand_index
from localsvc.host.commands.common import print_report, print_results
from localsvc.host.commands.get import _by_namespace, selector_of
from localsvc.host.commands.logs import Printer, Stream, container_names
from localsvc.host.commands.misc import version_text
from localsvc.host.commands.resources import KNOWN, resolve_kind
from localsvc.errors import LocalsvcError
from localsvc.host.manifests import ApplyReport


@pytest.mark.parametrize(("argv", "expected"), [
    ([], None),
    (["get", "pods"], 0),
    (["--env", "shop", "get"], 2),  # the value of --env is not the subcommand
    (["-e", "shop", "-v", "exec", "web"], 3),
    (["--verbose", "logs"], 1),
    (["--env", "shop"], None),
    (["--", "get"], None),  # after `--` nothing is ours
])
def test_subcommand_index_skips_top_level_options(argv: list[str], expected: int | None) -> None:
    assert subcommand_index(argv) == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("po", "Pod"), ("PODS", "Pod"), ("svc", "Service"), ("Deployment", "Deployment"),
    ("deploy", "Deployment"), ("ep", "Endpoints"),
])
def test_resource_types_as_kubectl_names_them(text: str, kind: str) -> None:
    assert resolve_kind(text) == kind


def test_an_unknown_resource_type_lists_the_known_ones() -> None:
    with pytest.raises(LocalsvcError) as caught:
        resolve_kind("hpa")
    assert str(caught.value) == f'unknown resource type "hpa"; localsvc knows {KNOWN}'


def test_delete_groups_names_by_namespace_and_cluster_kinds_under_default() -> None:
    objs = [{"metadata": {"name": "a", "namespace": "shop"}}, {"metadata": {"name": "b"}},
            {"metadata": {"name": "c", "namespace": "shop"}}]
    assert _by_namespace("Service", objs) == {"shop": ["a", "c"], "default": ["b"]}
    assert _by_namespace("Namespace", [{"metadata": {"name": "shop"}}]) == {"default": ["shop"]}


def test_selector_only_when_given() -> None:
    assert selector_of(argparse.Namespace()) is None
    assert selector_of(argparse.Namespace(selector=None)) is None
    selector = selector_of(argparse.Namespace(selector="app=web,tier!=db"))
    assert selector is not None
    assert selector.matches({"app": "web"}) and not selector.matches({"app": "web", "tier": "db"})
    args = cli.parse(["get", "pods", "-l", "app=web"])
    assert selector_of(args) is not None


def test_container_names_init_ones_first_only_when_asked() -> None:
    pod = {"spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"},
                                                                           {"name": "sidecar"}]}}
    assert container_names(pod, init=False) == ["app", "sidecar"]
    assert container_names(pod, init=True) == ["migrate", "app", "sidecar"]
    assert container_names({}, init=True) == []


def test_printer_writes_whole_lines_with_or_without_prefix(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    stream = Stream("default", "web-1", "app")
    Printer(prefixed=True).write(stream, [b"one", b"two"])
    Printer(prefixed=False).write(stream, [b"three"])
    Printer(prefixed=True).write(stream, [])
    assert capsysbinary.readouterr().out == b"[pod/web-1/app] one\n[pod/web-1/app] two\nthree\n"


def test_results_name_the_namespace_only_when_not_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    print_results([{"kind": "Service", "name": "web", "namespace": "default", "action": "created"},
                   {"kind": "Deployment", "name": "api", "namespace": "shop",
                    "action": "configured"},
                   {"kind": "Namespace", "name": "shop", "namespace": "", "action": "unchanged"}])
    assert capsys.readouterr().out.splitlines() == [
        "service/web created", "deployment/api -n shop configured", "namespace/shop unchanged"]


def test_a_report_says_skips_and_warnings_then_prints_results(
        capsys: pytest.CaptureFixture[str]) -> None:
    print_report(ApplyReport(
        results=[{"kind": "Pod", "name": "p", "namespace": "default", "action": "created"}],
        skipped=["Ingress/x skipped"], warnings=["externalIPs ignored"]))
    captured = capsys.readouterr()
    assert captured.out == "pod/p created\n"
    assert "Ingress/x skipped" in captured.err and "warning: externalIPs ignored" in captured.err


def test_version_text() -> None:
    assert version_text() == f"localsvc {__version__}"
