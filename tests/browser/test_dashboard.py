"""The dashboard in a real browser (headless Debian Chromium through selenium) against a real
environment running examples/backend-service: what the map shows, how fast it follows a
readiness change, live logs, and the actions a developer takes from the page, each checked
through the Kubernetes API with kubectl. The tests run in file order on one environment;
each one that changes the Deployment puts it back (three ready replicas) before it ends."""

from __future__ import annotations

import time
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from localsvc.host.api import Environment
from tests.browser import pagesupport as ps
from tests.browser.conftest import ARTIFACTS, Signed
from tests.integration.kubectl_support import Kubectl

SERVICE = "default/backend-service"
READY_WITHIN = 2.0  # seconds from the API's change to the page's (the figure)


def ready_endpoints(driver: WebDriver) -> list[str]:
    return sorted(ps.attributes(driver, ps.endpoint_sel(SERVICE, ready=True), "data-pod"))


def backend_pods(kubectl: Kubectl) -> list[str]:
    """The backend pods the API has, not being deleted, sorted by name."""
    listed = kubectl.json("get", "pods", "-l", "app=backend")["items"]
    return sorted(p["metadata"]["name"] for p in listed
                  if not p["metadata"].get("deletionTimestamp"))


def wait_three_ready(driver: WebDriver, kubectl: Kubectl, timeout: float = 45) -> list[str]:
    """Until the API has exactly three ready backend pods and the map shows exactly those
    as ready endpoints; their names."""
    def steady() -> list[str] | None:
        pods = kubectl.json("get", "pods", "-l", "app=backend")["items"]
        ready = sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get(
            "deletionTimestamp") and any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in p["status"].get("conditions") or []))
        return ready if len(ready) == len(pods) == 3 and ready_endpoints(driver) == ready else None
    names: list[str] = ps.until(steady, timeout, "three ready backend pods, on the map too",
                                interval=0.5)
    return names


def test_map_shows_backend_service_with_three_ready_endpoints(page: WebDriver,
                                                               kubectl: Kubectl) -> None:
    service = kubectl.json("get", "service", "backend-service")
    shown = ps.one(page, ps.service_sel("default", "backend-service"))
    assert shown.get_attribute("data-type") == "ClusterIP"
    text = ps.text_of(page, ps.service_sel("default", "backend-service"))
    assert service["spec"]["clusterIP"] in text, text
    assert "80" in text, text
    pods = wait_three_ready(page, kubectl)
    for pod in pods:  # the pods behind the endpoints are drawn too
        assert ps.attributes(page, ps.pod_sel("default", pod), "data-ready") == ["true"], pod
    assert ps.all_of(page, ps.endpoint_sel(SERVICE, ready=False)) == []
    # The picture the README shows (docs/images/dashboard.png is a copy of one run's).
    assert ps.save_screenshot(page, ARTIFACTS / "dashboard.png")


def test_external_name_target_on_the_map(page: WebDriver, kubectl: Kubectl) -> None:
    target = kubectl.out("get", "service", "web-alias", "-o", "jsonpath={.spec.externalName}")
    assert target == "web.default.svc.cluster.local"
    alias = ps.one(page, ps.service_sel("default", "web-alias"))
    assert alias.get_attribute("data-type") == "ExternalName"
    ps.until(lambda: any(target in (e.get_attribute("textContent") or "")
                         for e in ps.all_of(page, 'svg#map g[data-testid="external"]')),
             5, f'g[data-testid="external"] naming {target}')


def test_unready_pod_turns_its_endpoint_not_ready_within_2s(
        page: WebDriver, kubectl: Kubectl, dash_env: Environment) -> None:
    pod = wait_three_ready(page, kubectl)[0]
    not_ready = ps.endpoint_sel(SERVICE, pod, ready=False)
    ps.record_appearance(page, not_ready, "unready")
    watch = ps.ReadyWatch(kubectl, pod)
    try:
        watch.first("True", timeout=10)  # the watch runs: its first line is the current state
        container = dash_env.docker.containers.get(dash_env.container_id(pod))
        assert container.exec_run(["touch", "/tmp/unready"]).exit_code == 0
        # periodSeconds 2, failureThreshold 3 (the default): the API sees it within ~8 s.
        api_at = watch.first("False", timeout=20)
        page_at = ps.until(lambda: ps.appeared_at(page, "unready"), api_at - time.time() + 5,
                           f"{not_ready} on the page")
    finally:
        watch.stop()
    lag = page_at - api_at
    print(f"endpoint not ready on the page {lag:.3f} s after the API's watch showed it")
    assert lag < READY_WITHIN, f"the page showed it {lag:.2f} s after the API"
    # Readable without colour: the state is written out, not only coloured.
    marker = ps.text_of(page, not_ready)
    assert "not ready" in marker.lower(), f"no text marker on the not-ready endpoint: {marker!r}"
    assert len(ready_endpoints(page)) == 2
    assert container.exec_run(["rm", "/tmp/unready"]).exit_code == 0
    wait_three_ready(page, kubectl)


def test_themes_follow_the_system_and_state_is_written_out(page: WebDriver,
                                                             kubectl: Kubectl) -> None:
    wait_three_ready(page, kubectl)
    colours = {}
    try:
        for scheme in ("dark", "light"):
            page.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                "features": [{"name": "prefers-color-scheme", "value": scheme}]})
            colours[scheme] = page.execute_script(
                "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]")
    finally:
        page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert colours["dark"] != colours["light"], colours
    for endpoint in ps.all_of(page, ps.endpoint_sel(SERVICE, ready=True)):
        text = endpoint.get_attribute("textContent") or ""
        assert "ready" in text.lower() and "not ready" not in text.lower(), text


def test_logs_panel_shows_a_line_printed_after_the_page_opened(
        page: WebDriver, kubectl: Kubectl, dash_env: Environment) -> None:
    pod = wait_three_ready(page, kubectl)[0]
    ps.click(page, ps.pod_sel("default", pod))
    ps.until(lambda: ps.one(page, "#pod-panel").is_displayed(), 5, "#pod-panel shown")
    panel = "#pod-panel "
    ps.until(lambda: pod in ps.text_of(page, "#pod-panel"), 5, f"#pod-panel about {pod}")
    ps.until(lambda: ps.text_of(page, panel + ps.testid("pod-ready")), 5, "pod-ready filled in")
    # The demo server logs each request: this path appears in its log only from now on.
    path = f"/browser-{uuid.uuid4().hex[:10]}"
    container = dash_env.docker.containers.get(dash_env.container_id(pod))
    fetch = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:80{path}').read()"
    assert container.exec_run(["python3", "-c", fetch]).exit_code == 0
    logs = panel + ps.testid("logs")
    ps.until(lambda: path in ps.text_of(page, logs), 10, f"{path} in the logs panel")
    # Search filters the lines: the readiness probe's requests go, the new line stays.
    ps.until(lambda: "/healthz" in ps.text_of(page, logs), 10, "probe lines in the logs")
    search = ps.one(page, panel + ps.testid("log-search"))
    search.clear()
    search.send_keys(path)
    ps.until(lambda: "/healthz" not in ps.text_of(page, logs), 5, "the search hiding other lines")
    assert path in ps.text_of(page, logs)
    follow = ps.one(page, panel + ps.testid("log-follow"))
    assert follow.is_selected(), "follow is on by default"


def test_scale_from_the_page_changes_the_deployment(page: WebDriver, kubectl: Kubectl) -> None:
    wait_three_ready(page, kubectl)
    row = ps.deployment_sel("default", "backend")
    scale = ps.one(page, f"{row} {ps.testid('scale-input')}")
    scale.clear()
    scale.send_keys("4")
    ps.click(page, f"{row} {ps.testid('scale-apply')}")
    try:
        ps.until(lambda: kubectl.out("get", "deployment", "backend",
                                     "-o", "jsonpath={.spec.replicas}") == "4",
                 10, "kubectl to see 4 replicas", interval=0.3)
        ps.until(lambda: len(ready_endpoints(page)) == 4, 45, "a fourth ready endpoint on the map")
    finally:
        kubectl.run("scale", "deployment/backend", "--replicas=3")
    wait_three_ready(page, kubectl)


def test_delete_pod_from_the_page(page: WebDriver, kubectl: Kubectl) -> None:
    pod = wait_three_ready(page, kubectl)[0]
    ps.click(page, ps.pod_sel("default", pod))
    ps.click(page, "#pod-panel " + ps.testid("delete-pod"))
    confirm = WebDriverWait(page, 5).until(expected_conditions.alert_is_present())
    assert pod in confirm.text, confirm.text  # the dialog says which pod goes
    confirm.accept()
    ps.until(lambda: pod not in backend_pods(kubectl), 30, f"kubectl to see {pod} deleted",
             interval=0.3)
    ps.until(lambda: not ps.all_of(page, ps.pod_sel("default", pod)), 5, f"{pod} off the map")
    replaced = wait_three_ready(page, kubectl)  # the ReplicaSet made a new one
    assert pod not in replaced


def test_rollout_restart_from_the_page(page: WebDriver, kubectl: Kubectl) -> None:
    before = wait_three_ready(page, kubectl)
    ps.click(page, f"{ps.deployment_sel('default', 'backend')} {ps.testid('restart')}")
    annotation = "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}"
    ps.until(lambda: kubectl.out("get", "deployment", "backend", "-o", annotation), 10,
             "kubectl to see the restartedAt annotation", interval=0.3)
    kubectl.run("rollout", "status", "deployment/backend", "--timeout=50s",
                request_timeout=None, timeout=60)
    after = wait_three_ready(page, kubectl)
    assert not set(before) & set(after), (before, after)


def test_without_a_session_the_page_says_to_run_localsvc_ui(dashboard: Signed) -> None:
    driver = dashboard.open()
    cookies = driver.get_cookies()
    assert [c["name"] for c in cookies] == ["localsvc_session"]
    assert cookies[0].get("httpOnly") is True
    try:
        driver.delete_all_cookies()
        driver.get(dashboard.base + "/")
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "localsvc ui" in body, body
        driver.get(dashboard.login_url)  # one time only
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "used or expired" in body and "localsvc ui" in body, body
    finally:
        driver.delete_all_cookies()
        driver.get(dashboard.base + "/")  # the cookie's site, to set it back on
        for cookie in cookies:
            driver.add_cookie(cookie)
    dashboard.open()  # signed in again
