"""model/kubeconfig.py (merge and remove rules) and host/kubeconfig.py (which file, reading,
writing), checked against the real /usr/bin/kubectl: it reads the written file, and it talks TLS
with the pinned CA and the bearer token to an aiohttp server on 127.0.0.1 that serves with
runtime/pki.py's context."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from localsvc.host.kubeconfig import (
    KubeconfigError,
    kubeconfig_path,
    locked,
    kubeconfig_paths,
    read_kubeconfig,
    remove_context,
    write_context,
    write_kubeconfig,
)
from localsvc.model.kubeconfig import (
    context_name,
    dump,
    empty_config,
    kubeconfig_for,
    merge,
    remove,
    shape_problems,
)
from localsvc.runtime.pki import Sans, ensure_pki

KUBECTL = "/usr/bin/kubectl"
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
DEV = kubeconfig_for("dev", "https://127.0.0.1:40001", CA, "tok-dev")

# Every field: the Python client rejects a VersionInfo that lacks one.
VERSION_INFO = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}

KIND_CONFIG: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Config", "preferences": {"colors": True},
    "clusters": [{"name": "kind-kind", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "kind-kind", "user": {"token": "kind-token"}}],
    "contexts": [{"name": "kind-kind",
                  "context": {"cluster": "kind-kind", "user": "kind-kind", "namespace": "x"}}],
    "current-context": "kind-kind",
    "extensions": [{"name": "ext", "extension": {"a": 1}}],
}


def _kubectl(kubeconfig: Path, *args: str) -> str:
    return _kubectl_with({"KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}, *args)


def _kubectl_with(environ: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [KUBECTL, "--request-timeout=10s", *args], capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin", "HOME": "/nonexistent", **environ})
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- model: the document ----------------------------------------------------------------------

def test_kubeconfig_for_names_cluster_user_and_context_after_the_environment() -> None:
    assert context_name("dev") == "localsvc-dev"
    assert DEV["clusters"] == [{"name": "localsvc-dev", "cluster": {
        "server": "https://127.0.0.1:40001",
        "certificate-authority-data": base64.b64encode(CA).decode()}}]
    assert DEV["users"] == [{"name": "localsvc-dev", "user": {"token": "tok-dev"}}]
    assert DEV["contexts"] == [{"name": "localsvc-dev",
                                "context": {"cluster": "localsvc-dev", "user": "localsvc-dev"}}]
    assert DEV["current-context"] == "localsvc-dev"
    assert (DEV["apiVersion"], DEV["kind"]) == ("v1", "Config")


def test_dump_orders_keys_as_kubectl_does() -> None:
    keys = [line.split(":")[0] for line in dump(DEV).splitlines() if not line[0] in " -"]
    assert keys == ["apiVersion", "clusters", "contexts", "current-context", "kind",
                    "preferences", "users"]


# --- model: merge -------------------------------------------------------------------------------

def test_merge_into_nothing_is_the_new_config() -> None:
    assert merge(None, DEV, set_current=True) == DEV
    assert merge({}, DEV, set_current=False) == DEV


def test_merge_keeps_everything_else_and_switches_the_current_context() -> None:
    before = copy.deepcopy(KIND_CONFIG)
    merged = merge(KIND_CONFIG, DEV, set_current=True)
    assert KIND_CONFIG == before  # inputs untouched
    assert [c["name"] for c in merged["clusters"]] == ["kind-kind", "localsvc-dev"]
    assert [u["name"] for u in merged["users"]] == ["kind-kind", "localsvc-dev"]
    assert [c["name"] for c in merged["contexts"]] == ["kind-kind", "localsvc-dev"]
    assert merged["current-context"] == "localsvc-dev"
    assert merged["preferences"] == {"colors": True}
    assert merged["extensions"] == KIND_CONFIG["extensions"]
    assert merged["contexts"][0] == KIND_CONFIG["contexts"][0]


def test_merge_without_set_current_keeps_the_users_choice() -> None:
    assert merge(KIND_CONFIG, DEV, set_current=False)["current-context"] == "kind-kind"


def test_merge_without_set_current_chooses_when_nothing_was_chosen() -> None:
    unchosen = {**KIND_CONFIG, "current-context": ""}
    assert merge(unchosen, DEV, set_current=False)["current-context"] == "localsvc-dev"


def test_merge_replaces_entries_of_the_same_name_where_they_stand() -> None:
    first = merge(merge(KIND_CONFIG, DEV, set_current=True),
                  kubeconfig_for("other", "https://127.0.0.1:1", CA, "t"), set_current=True)
    moved = kubeconfig_for("dev", "https://127.0.0.1:40002", b"new-ca", "tok-2")
    second = merge(first, moved, set_current=False)
    assert [c["name"] for c in second["clusters"]] == ["kind-kind", "localsvc-dev",
                                                      "localsvc-other"]
    assert second["clusters"][1] == moved["clusters"][0]
    assert second["users"][1] == {"name": "localsvc-dev", "user": {"token": "tok-2"}}
    assert second["current-context"] == "localsvc-other"


def test_merge_fills_sections_that_are_null() -> None:
    merged = merge({"apiVersion": "v1", "kind": "Config", "clusters": None}, DEV, True)
    assert merged["clusters"] == DEV["clusters"]


# --- model: remove ------------------------------------------------------------------------------

def test_remove_drops_the_three_entries_and_clears_the_current_context() -> None:
    merged = merge(KIND_CONFIG, DEV, set_current=True)
    remaining, changed = remove(merged, "localsvc-dev")
    assert changed
    assert remaining["current-context"] == ""
    assert remaining["clusters"] == KIND_CONFIG["clusters"]
    assert remaining["users"] == KIND_CONFIG["users"]
    assert remaining["contexts"] == KIND_CONFIG["contexts"]
    assert merged["current-context"] == "localsvc-dev"  # input untouched


def test_remove_keeps_another_current_context() -> None:
    merged = merge(KIND_CONFIG, DEV, set_current=False)
    remaining, changed = remove(merged, "localsvc-dev")
    assert changed and remaining["current-context"] == "kind-kind"


def test_remove_of_an_absent_name_changes_nothing() -> None:
    remaining, changed = remove(KIND_CONFIG, "localsvc-dev")
    assert not changed
    assert remaining == KIND_CONFIG


def test_remove_of_a_dangling_current_context_clears_it() -> None:
    remaining, changed = remove({**KIND_CONFIG, "current-context": "localsvc-dev"},
                                "localsvc-dev")
    assert changed and remaining["current-context"] == ""


# --- model: shape -------------------------------------------------------------------------------

@pytest.mark.parametrize(("document", "problem"), [
    ([1, 2], "the document is a list, not a mapping"),
    ({"kind": "Pod"}, "kind: is 'Pod', a kubeconfig has kind: Config"),
    ({"clusters": {"a": 1}}, "clusters: is a dict, must be a list"),
    ({"users": ["x"]}, "users[0]: must be a mapping with name and user"),
    ({"contexts": [{"context": {}}]}, "contexts[0].name: missing"),
    ({"current-context": 3}, "current-context: must be a string"),
])
def test_shape_problems_name_the_field(document: object, problem: str) -> None:
    problems = shape_problems(document)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_real_kubeconfig_has_no_shape_problems() -> None:
    assert shape_problems(KIND_CONFIG) == []
    assert shape_problems(empty_config()) == []


# --- host: which file ---------------------------------------------------------------------------

def test_without_kubeconfig_the_file_is_under_home(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path)}
    assert kubeconfig_path(environ) == tmp_path / ".kube" / "config"
    assert kubeconfig_paths(environ) == [tmp_path / ".kube" / "config"]


def test_one_kubeconfig_path_is_the_file_even_when_missing(tmp_path: Path) -> None:
    environ = {"HOME": "/nonexistent", "KUBECONFIG": str(tmp_path / "a")}
    assert kubeconfig_path(environ) == tmp_path / "a"


def test_of_several_paths_the_first_existing_is_written_else_the_last(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    environ = {"KUBECONFIG": os.pathsep.join(["", str(a), str(b), str(a), str(c)])}
    assert kubeconfig_paths(environ) == [a, b, c]
    assert kubeconfig_path(environ) == c
    b.write_text("")
    assert kubeconfig_path(environ) == b


# --- host: read and write -----------------------------------------------------------------------

def test_missing_and_empty_files_read_as_empty_configs(tmp_path: Path) -> None:
    assert read_kubeconfig(tmp_path / "missing") == empty_config()
    (tmp_path / "empty").write_text("\n")
    assert read_kubeconfig(tmp_path / "empty") == empty_config()


def test_a_file_that_is_not_yaml_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nclusters: [\n  - : :\n")
    with pytest.raises(KubeconfigError, match=rf"^{path}:\d+: not a kubeconfig"):
        read_kubeconfig(path)


def test_a_file_that_is_not_a_kubeconfig_is_named_with_its_problem(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: nope\n")
    with pytest.raises(KubeconfigError) as caught:
        read_kubeconfig(path)
    assert f"{path}: clusters: is a str, must be a list" in str(caught.value)
    assert "point KUBECONFIG at another one" in str(caught.value)


def test_write_context_creates_dot_kube_and_a_private_file(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path)}
    path = write_context(DEV, environ=environ)
    assert path == tmp_path / ".kube" / "config"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(path.read_text()) == DEV


def test_write_context_merges_into_an_existing_file_and_tightens_its_mode(
        tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KIND_CONFIG))
    path.chmod(0o644)
    assert write_context(DEV, environ={"KUBECONFIG": str(path)}) == path
    assert read_kubeconfig(path) == merge(KIND_CONFIG, DEV, set_current=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_context_refuses_to_overwrite_a_file_that_is_not_a_kubeconfig(
        tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("- just\n- a list\n")
    with pytest.raises(KubeconfigError, match="not a mapping"):
        write_context(DEV, environ={"KUBECONFIG": str(path)})
    assert path.read_text() == "- just\n- a list\n"


def test_a_symlinked_kubeconfig_stays_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "kubeconfig"
    target.parent.mkdir()
    target.write_text(yaml.safe_dump(KIND_CONFIG))
    link = tmp_path / "config"
    link.symlink_to(target)
    write_context(DEV, environ={"KUBECONFIG": str(link)})
    assert link.is_symlink()
    assert read_kubeconfig(target)["current-context"] == "localsvc-dev"


def test_a_stale_entry_in_another_listed_file_is_removed_so_it_cannot_shadow(
        tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    stale = kubeconfig_for("dev", "https://127.0.0.1:1", CA, "old")
    write_kubeconfig(first, merge(KIND_CONFIG, stale, set_current=False))
    second.write_text("")
    environ = {"KUBECONFIG": os.pathsep.join([str(first), str(second)])}
    assert write_context(DEV, environ=environ) == first  # the first existing file
    assert read_kubeconfig(first)["users"][1] == DEV["users"][0]
    third = tmp_path / "third"
    environ = {"KUBECONFIG": os.pathsep.join([str(third), str(first)])}
    write_kubeconfig(third, stale)
    assert write_context(DEV, environ=environ) == third
    assert read_kubeconfig(third)["users"] == DEV["users"]
    # the stale copy is gone (and current-context, which named it), the rest kept
    assert read_kubeconfig(first) == {**KIND_CONFIG, "current-context": ""}
    merged = yaml.safe_load(_kubectl_with(environ, "config", "view", "--raw"))
    assert [u for u in merged["users"] if u["name"] == "localsvc-dev"] == DEV["users"]


def test_remove_context_leaves_missing_files_alone(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path)}
    assert not remove_context("localsvc-dev", environ=environ)
    assert not (tmp_path / ".kube").exists()


def test_remove_context_undoes_write_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, KIND_CONFIG)
    environ = {"KUBECONFIG": str(path)}
    write_context(DEV, environ=environ)
    assert remove_context("localsvc-dev", environ=environ)
    # as kind does: the context it pointed at is gone, so no context is chosen
    assert read_kubeconfig(path) == {**KIND_CONFIG, "current-context": ""}
    assert not remove_context("localsvc-dev", environ=environ)


def test_remove_context_after_switching_away_keeps_the_users_choice(tmp_path: Path) -> None:
    path = tmp_path / "config"
    environ = {"KUBECONFIG": str(path)}
    write_context(DEV, environ=environ)
    write_context({**KIND_CONFIG, "extensions": []}, environ=environ)
    assert remove_context("localsvc-dev", environ=environ)
    assert read_kubeconfig(path)["current-context"] == "kind-kind"


def test_write_context_waits_for_kubectls_lock(tmp_path: Path) -> None:
    path = tmp_path / "config"
    lock = tmp_path / "config.lock"
    lock.write_text("")
    releaser = threading.Timer(0.3, lock.unlink)
    releaser.start()
    try:
        write_context(DEV, environ={"KUBECONFIG": str(path)}, lock_timeout=10)
    finally:
        releaser.join(timeout=10)
    assert read_kubeconfig(path) == DEV
    assert not lock.exists()


def test_a_lock_that_stays_is_an_error_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, KIND_CONFIG)
    (tmp_path / "config.lock").write_text("")
    with pytest.raises(KubeconfigError, match=rf"still locked by {tmp_path}/config.lock after "
                                              r"0.2 s .* remove .*config.lock"):
        write_context(DEV, environ={"KUBECONFIG": str(path)}, lock_timeout=0.2)
    with pytest.raises(KubeconfigError, match="still locked"):
        remove_context("kind-kind", environ={"KUBECONFIG": str(path)}, lock_timeout=0.2)
    assert read_kubeconfig(path) == KIND_CONFIG


def test_kubectl_respects_our_lock(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, DEV)
    with locked(path):
        result = subprocess.run(
            [KUBECTL, "config", "set-context", "localsvc-dev", "--namespace=x"],
            capture_output=True, text=True, timeout=30,
            env={"KUBECONFIG": str(path), "PATH": "/usr/bin"})
    assert result.returncode != 0
    assert "config.lock" in result.stderr
    assert read_kubeconfig(path) == DEV
    assert not (tmp_path / "config.lock").exists()


# --- the real kubectl ---------------------------------------------------------------------------

def test_kubectl_reads_the_written_contexts(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, KIND_CONFIG)
    write_context(DEV, environ={"KUBECONFIG": str(path)})
    names = _kubectl(path, "config", "get-contexts", "-o", "name").split()
    assert names == ["kind-kind", "localsvc-dev"]
    assert _kubectl(path, "config", "current-context").strip() == "localsvc-dev"
    minified = yaml.safe_load(_kubectl(path, "config", "view", "--minify", "--raw"))
    assert minified["clusters"] == DEV["clusters"]
    assert minified["users"] == DEV["users"]
    assert minified["contexts"] == DEV["contexts"]


def test_kubectl_edits_of_the_file_survive_our_next_merge(tmp_path: Path) -> None:
    path = tmp_path / "config"
    environ = {"KUBECONFIG": str(path)}
    write_context(DEV, environ=environ)
    _kubectl(path, "config", "set-context", "localsvc-dev", "--namespace=team")
    _kubectl(path, "config", "set-cluster", "mine", "--server=https://10.0.0.1")
    write_context(kubeconfig_for("qa", "https://127.0.0.1:40003", CA, "t"),
                  set_current=False, environ=environ)
    names = _kubectl(path, "config", "get-contexts", "-o", "name").split()
    assert names == ["localsvc-dev", "localsvc-qa"]
    assert _kubectl(path, "config", "view", "-o",
                    "jsonpath={.contexts[?(@.name=='localsvc-dev')].context.namespace}") == "team"
    assert "mine" in _kubectl(path, "config", "get-clusters")


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, bytes, list[str]]]:
    """An aiohttp server on 127.0.0.1 with the environment's serving certificate: /version
    answers with a bearer token, 401 without; yields its URL, the CA and the seen headers."""
    pki = ensure_pki(tmp_path / "pki", Sans("dev", "172.30.0.2", "10.96.0.1"))
    seen: list[str] = []

    async def version(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer tok-dev":
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        return web.json_response(VERSION_INFO)

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_get("/version/", version)  # the Python client's path
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.ssl_server_context())
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}", pki.ca_pem, seen
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_kubectl_trusts_the_pinned_ca_and_sends_the_token(
        tmp_path: Path, tls_api: tuple[str, bytes, list[str]]) -> None:
    server, ca_pem, seen = tls_api
    path = tmp_path / "config"
    write_context(kubeconfig_for("dev", server, ca_pem, "tok-dev"),
                  environ={"KUBECONFIG": str(path)})
    version = json.loads(_kubectl(path, "get", "--raw", "/version"))
    assert version["gitVersion"] == "v1.32.0"
    assert seen and set(seen) == {"Bearer tok-dev"}


def test_kubectl_refuses_a_server_whose_ca_is_not_pinned(
        tmp_path: Path, tls_api: tuple[str, bytes, list[str]]) -> None:
    server, _, seen = tls_api
    other_ca = ensure_pki(tmp_path / "other", Sans("dev", "172.30.0.2", "10.96.0.1")).ca_pem
    path = tmp_path / "config"
    write_context(kubeconfig_for("dev", server, other_ca, "tok-dev"),
                  environ={"KUBECONFIG": str(path)})
    result = subprocess.run(
        [KUBECTL, "--request-timeout=10s", "get", "--raw", "/version"], capture_output=True,
        text=True, timeout=30, env={"KUBECONFIG": str(path), "PATH": "/usr/bin"})
    assert result.returncode != 0
    assert "certificate signed by unknown authority" in result.stderr
    assert seen == []  # the token never reached a server it does not trust


def test_the_python_client_loads_the_file_and_verifies_the_server(
        tmp_path: Path, tls_api: tuple[str, bytes, list[str]]) -> None:
    from kubernetes import client, config

    server, ca_pem, seen = tls_api
    path = tmp_path / "config"
    write_context(kubeconfig_for("dev", server, ca_pem, "tok-dev"),
                  environ={"KUBECONFIG": str(path)})
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(path), context="localsvc-dev", client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        version = client.VersionApi(api).get_code(_request_timeout=10)
    assert version.git_version == "v1.32.0"
    assert seen == ["Bearer tok-dev"]
