"""The dashboard's command line: `localsvc ui` and `up --no-ui` parse as --help says."""

from __future__ import annotations

import pytest

from localsvc.host.cli import parse
from localsvc.host.commands import project, ui


def test_ui_defaults_and_flags() -> None:
    args = parse(["ui"])
    assert args.func is ui.cmd_ui and args.port is None and not args.no_open
    args = parse(["ui", "--no-open", "--port", "8001", "--env", "shop"])
    assert (args.no_open, args.port, args.env) == (True, 8001, "shop")


def test_ui_refuses_a_port_that_is_no_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["ui", "--port", "http"])
    assert exited.value.code == 2
    assert "--port: invalid int value: 'http'" in capsys.readouterr().err


def test_up_serves_the_dashboard_unless_no_ui() -> None:
    assert parse(["up", "-f", "k8s/"]).no_ui is False
    args = parse(["up", "-f", "k8s/", "--no-ui"])
    assert args.no_ui is True and args.func is project.cmd_up


def test_ui_help_explains_the_login_and_the_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["ui", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("on 127.0.0.1", "one-time login link", "valid ten minutes",
                  "$LOCALSVC_UI_PORT", "--no-open", "Ctrl-C", "token stays in this process"):
        assert words in text, words
