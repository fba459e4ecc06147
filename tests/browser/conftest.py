"""Fixtures of the browser tests: one headless Chromium for the session, one environment with
examples/backend-service (plus the ExternalName Service of examples/service-types and a
NodePort Service of the backends) for the module, its dashboard served from this process
(localsvc/host/dashboard's runner, as a foreground `localsvc up` serves it) and signed in
through a one-time login link, as `localsvc ui` opens it. A failing test leaves a screenshot
in test-artifacts/screenshots/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from selenium.webdriver.remote.webdriver import WebDriver

from localsvc.host.api import Environment
from localsvc.host.dashboard.runner import Dashboard, for_environment
from tests.browser import pagesupport as ps
from localsvc.runtime.images import ensure_context_image
from tests.integration.conftest import (  # noqa: F401  (fixtures, found here by pytest)
    DEMO_CONTEXT,
    DEMO_IMAGE,
    docker_client,
    node_image,
    unique_env,
)
from tests.integration.kubectl_support import Kubectl, write_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
BACKEND_EXAMPLE = ROOT / "examples" / "backend-service"
SERVICE_TYPES = ROOT / "examples" / "service-types" / "services.yaml"

_browser: WebDriver | None = None  # for the failure hook, whatever fixtures a test asked for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    global _browser
    driver = ps.start_chromium()
    _browser = driver
    try:
        yield driver
    finally:
        _browser = None
        driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Iterator[Any]:
    """On a failure in a browser test's setup or body: the browser's picture of that moment,
    as test-artifacts/screenshots/<test>.png (CI keeps the directory as an artifact)."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if (not report.failed or report.when not in ("setup", "call") or _browser is None
            or "tests/browser" not in str(item.fspath)):
        return
    path = ps.save_screenshot(_browser, SCREENSHOTS / f"{ps.file_name(item.name)}.png")
    message = f"screenshot: {path}" if path else "screenshot: none (the browser did not answer)"
    report.sections.append(("browser", message))
    report.sections.append(("browser console", ps.console(_browser)))
    print(f"\n{item.nodeid}: {message}", file=sys.__stderr__, flush=True)


def external_name_services() -> str:
    """The ExternalName Service(s) of examples/service-types: only these, so that the
    example's fixed host ports (30080, 8080) are not taken from other tests."""
    docs = [d for d in yaml.safe_load_all(SERVICE_TYPES.read_text()) if d]
    chosen = [d for d in docs if d.get("spec", {}).get("type") == "ExternalName"]
    assert chosen, f"{SERVICE_TYPES} has no ExternalName Service"
    return str(yaml.safe_dump_all(chosen))


# The demo image of this checkout under a tag of the browser tests' own: the unready test needs
# its /tmp/unready switch, and on a machine shared by several checkouts another one's setup
# may point localsvc-examples/demo:1 at its own (older) build at any moment.
BROWSER_DEMO_IMAGE = "localsvc-examples/demo:browser"


@pytest.fixture(scope="module")
def backend_example(docker_client: docker.DockerClient,  # noqa: F811
                    tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/backend-service as it is, but for the demo image's tag."""
    ensure_context_image(docker_client, DEMO_CONTEXT, BROWSER_DEMO_IMAGE,
                         lambda m: print(m, file=sys.stderr))
    directory = tmp_path_factory.mktemp("backend-service")
    for manifest in sorted(BACKEND_EXAMPLE.glob("*.yaml")):
        text = manifest.read_text()
        assert DEMO_IMAGE in text, f"{manifest} no longer uses {DEMO_IMAGE}"
        (directory / manifest.name).write_text(text.replace(DEMO_IMAGE, BROWSER_DEMO_IMAGE))
    return directory


@pytest.fixture(scope="module")
def dash_env(node_image: str, backend_example: Path) -> Iterator[Environment]:  # noqa: F811
    environment = Environment(unique_env("b"), node_image=node_image)
    try:
        environment.up([backend_example], wait=120)
        yield environment
    finally:
        environment.down(volumes=True)


# The backends on a node port the environment allocates (a fixed one could be taken by another
# test run on this machine): the map's host -> NodePort path and the panel's host URL.
NODE_PORT_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: backend-nodeport}
spec:
  type: NodePort
  selector: {app: backend}
  ports: [{port: 80, targetPort: 80}]
"""


@pytest.fixture(scope="module")
def kubectl(dash_env: Environment, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    kube = Kubectl(dash_env, write_kubeconfig(dash_env, tmp_path_factory.mktemp("kube")))
    kube.run("apply", "-f", "-", stdin=external_name_services() + "---\n" + NODE_PORT_SERVICE)
    return kube


@dataclass
class Signed:
    """The dashboard and the browser signed in to it (the session cookie set)."""

    dashboard: Dashboard  # the server serving now
    browser: WebDriver
    login_url: str  # used: a second visit must be refused

    @property
    def base(self) -> str:
        return self.dashboard.url.rstrip("/")

    def open(self, load: bool = True) -> WebDriver:
        """The page, freshly loaded (`load`: else the one the browser is on), its lists and
        watches running."""
        for attempt in range(3):
            if load or attempt:
                self.browser.get(self.base + "/")
            try:
                ps.wait_connected(self.browser)
                return self.browser
            except AssertionError as err:  # what the page said, and what the server relays
                console = ps.console(self.browser)
                failure = (f"{err}\npage status: {ps.text_of(self.browser, '#status')!r}; "
                           f"streams the server relays from the node: "
                           f"{self.dashboard.node.open_streams}\nconsole:\n{console}")
                # Chromium aborts every request in flight when the machine's network interfaces
                # change (ERR_NETWORK_CHANGED), and Docker adds and removes them for each pod and
                # environment: a page whose own modules were aborted then never starts. A person
                # reloads; so does the test, twice at most, and says so.
                if "ERR_NETWORK_CHANGED" not in console:
                    raise AssertionError(failure) from None
                print(f"reloading the page: Chromium aborted its loading\n{console}",
                      file=sys.__stderr__, flush=True)
        raise AssertionError(failure)


@pytest.fixture(scope="module")
def dashboard(dash_env: Environment, kubectl: Kubectl, browser: WebDriver) -> Iterator[Signed]:
    server = for_environment(dash_env)
    server.start()
    signed = Signed(server, browser, server.login_url())
    try:
        browser.delete_all_cookies()
        browser.get(signed.login_url)  # 303 to / with the session cookie, as `localsvc ui` does
        signed.open(load=False)
        yield signed
    finally:
        browser.get("about:blank")  # the page's watches end first: the server stops at once
        signed.dashboard.stop()  # a test may have replaced it


@pytest.fixture
def page(dashboard: Signed) -> WebDriver:
    return dashboard.open()
