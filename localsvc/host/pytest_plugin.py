"""The pytest plugin: a `localsvc_env` fixture that runs the project's manifests for the tests.

Owns the fixture, its ini options and marker, teardown (also on Ctrl-C), and the pods/logs
attached to failing tests. It only uses the Python API (`localsvc.host.api.Environment`, and the node's
read-only status through it); it must not talk to Docker directly. Registered through the `pytest11` entry point.

    [pytest]
    localsvc_manifests = k8s/            # files or directories, relative to the rootdir
    localsvc_scope = session             # or: module
    localsvc_wait = 120                  # seconds to wait for every pod to be Ready

    def test_web(localsvc_env):
        urllib.request.urlopen(localsvc_env.service_url("web"))

    @pytest.mark.localsvc(manifests=["k8s/other/"])   # this module/test: own env, module scope
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from localsvc.errors import LocalsvcError
from localsvc.host.output import render

SCOPES = ("session", "module")
LOG_LINES = 50
ENV_KEY = pytest.StashKey[Environment]()

# Every environment this process brought up and has not removed yet: the safety net's list.
_live: dict[str, Environment] = {}
_keep = {"enabled": False}  # --localsvc-keep, for the hooks that get no config


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("localsvc", "localsvc: Kubernetes manifests on the local Docker engine")
    group.addoption("--localsvc-keep", action="store_true", default=False,
                    help="leave the environments running after the tests (for debugging; remove "
                         "them with `localsvc down --env NAME`)")
    parser.addini("localsvc_manifests", type="linelist", default=[],
                  help="manifest files or directories for localsvc_env, relative to the rootdir")
    parser.addini("localsvc_scope", default="session",
                  help="lifetime of the localsvc_env environment: session (default) or module")
    parser.addini("localsvc_wait", default="120",
                  help="seconds to wait until every pod is Ready (default 120)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "localsvc(manifests=[...]): run localsvc_env with these manifests (relative to the "
        "rootdir) in an environment of its own, for the module",
    )
    _keep["enabled"] = bool(config.getoption("localsvc_keep"))
    scope = str(config.getini("localsvc_scope")).strip()
    if scope not in SCOPES:
        raise pytest.UsageError(f"localsvc_scope must be session or module (got {scope!r})")
    try:
        float(str(config.getini("localsvc_wait")))
    except ValueError as err:
        raise pytest.UsageError(
            f"localsvc_wait must be a number of seconds (got {config.getini('localsvc_wait')!r})"
        ) from err


class EnvPool:
    """The environments of one fixture scope, keyed by their manifests, made on first use."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.envs: dict[tuple[str, ...], Environment] = {}
        self.failures: dict[tuple[str, ...], str] = {}

    def get(self, manifests: tuple[str, ...]) -> Environment:
        """The environment running these manifests; a failed start fails every test asking."""
        if manifests not in self.envs and manifests not in self.failures:
            try:
                self.envs[manifests] = self._start(manifests)
            except LocalsvcError as err:
                self.failures[manifests] = f"localsvc: {err}"
        if manifests in self.failures:  # outside the except: no chained tracebacks
            pytest.fail(self.failures[manifests], pytrace=False)
        return self.envs[manifests]

    def _start(self, manifests: tuple[str, ...]) -> Environment:
        keep = _keep["enabled"]
        # The node image (LOCALSVC_NODE_IMAGE included) is chosen and checked by Environment.
        env = Environment(new_env_name(), reap=not keep)
        _live[env.name] = env
        wait = float(str(self.config.getini("localsvc_wait")))
        try:
            env.up(list(manifests), wait=wait)  # Ready, and Services route to the ready pods
            return env
        except LocalsvcError as err:
            problem = str(err)
        created = env_exists(env)
        details = diagnostics(env) if created else []
        if created and not keep:
            down(env)
        elif not created:
            _live.pop(env.name, None)
        text = "".join(f"\n----- {title} -----\n{body}" for title, body in details)
        raise LocalsvcError(f"environment {env.name}: {problem}{text}")

    def close(self) -> None:
        """Remove every environment of this scope (unless --localsvc-keep)."""
        if not _keep["enabled"]:
            for env in self.envs.values():
                down(env)
        self.envs.clear()


def new_env_name() -> str:
    """`pt-<xdist worker or main>-<6 hex>`: unique per environment, so workers never share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER") or "main"
    return f"pt-{worker}-{uuid.uuid4().hex[:6]}"


def env_exists(env: Environment) -> bool:
    try:
        return env.exists()
    except LocalsvcError:
        return False


def down(env: Environment) -> None:
    """Remove an environment and forget it, its claims' data included; idempotent."""
    _live.pop(env.name, None)
    env.down(volumes=True)


def down_all() -> None:
    """The safety net: remove what fixture teardown did not (interrupts, crashed teardowns)."""
    for env in list(_live.values()):
        try:
            down(env)
        except Exception as err:  # noqa: BLE001 - keep removing the others
            print(f"localsvc: could not remove environment {env.name}: {err}")


def resolve(config: pytest.Config, paths: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Manifest paths relative to the rootdir, made absolute."""
    root = Path(config.rootpath)
    return tuple(str(root / Path(p)) for p in paths)


def wanted(request: pytest.FixtureRequest) -> tuple[str, tuple[str, ...]]:
    """(scope, manifests) for this test: the closest localsvc marker, else the ini options."""
    config = request.config
    marker = request.node.get_closest_marker("localsvc")
    if marker is not None:
        paths = marker.kwargs.get("manifests", marker.args[0] if marker.args else None)
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        if not paths:
            raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.localsvc needs "
                                    "manifests=[FILE_OR_DIRECTORY, ...]")
        return "module", resolve(config, list(paths))
    paths = config.getini("localsvc_manifests")
    if not paths:
        raise pytest.UsageError(
            "localsvc_env has no manifests: set localsvc_manifests in the pytest ini file "
            "(e.g. `localsvc_manifests = k8s/`) or mark the test with "
            "@pytest.mark.localsvc(manifests=[...])"
        )
    return str(config.getini("localsvc_scope")).strip(), resolve(config, paths)


@pytest.fixture(scope="session")
def _localsvc_session_pool(request: pytest.FixtureRequest) -> Iterator[EnvPool]:
    pool = EnvPool(request.config)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def _localsvc_module_pool(request: pytest.FixtureRequest) -> Iterator[EnvPool]:
    pool = EnvPool(request.config)
    yield pool
    pool.close()


@pytest.fixture
def localsvc_env(request: pytest.FixtureRequest, _localsvc_session_pool: EnvPool,
                 _localsvc_module_pool: EnvPool) -> Environment:
    """An Environment running the configured manifests, every pod Ready; removed afterwards."""
    scope, manifests = wanted(request)
    pool = _localsvc_session_pool if scope == "session" else _localsvc_module_pool
    env = pool.get(manifests)
    request.node.stash[ENV_KEY] = env
    return env


def diagnostics(env: Environment) -> list[tuple[str, str]]:
    """(title, text) sections: the pods of the environment and the last log lines of each
    container. Never raises: a broken environment is exactly when these are wanted."""
    try:
        pods = env.get("pods", namespace=None)
    except Exception as err:  # noqa: BLE001
        return [(f"localsvc pods ({env.name})", f"could not list pods: {err}")]
    sections = [(f"localsvc pods ({env.name})", render("Pod", pods, None, True))]
    for pod in pods:
        name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "default")
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            container = status["name"]
            try:
                text = b"".join(env.logs(name, container, namespace, tail=LOG_LINES)).decode(
                    errors="replace")
            except Exception as err:  # noqa: BLE001
                text = f"no logs: {err}"
            title = f"localsvc logs {namespace}/{name} [{container}] (last {LOG_LINES} lines)"
            sections.append((title, text))
    return sections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used localsvc_env shows the pods and their last log lines."""
    report = yield
    env = item.stash.get(ENV_KEY, None)
    if env is not None and report.failed and report.when in ("setup", "call"):
        report.sections.extend(diagnostics(env))
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _keep["enabled"]:
        down_all()
        return
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    for name in _live:
        line = f"localsvc: kept environment {name} (LOCALSVC_ENV={name} localsvc get pods; " \
               f"localsvc down --env {name})"
        if terminal is not None:
            terminal.ensure_newline()
            terminal.write_line(line)
        else:
            print(line)


def pytest_keyboard_interrupt() -> None:
    if not _keep["enabled"]:
        down_all()
