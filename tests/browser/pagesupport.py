"""Helpers of the browser tests: headless Debian Chromium driven by selenium, the dashboard's DOM
contract (/tmp/p/dash_contract.md, "The page") as CSS selectors, bounded waits that say what
they waited for, and a pod readiness watch through kubectl that records when each change
arrived (the zero of the "within 2 s" measurement)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.integration.kubectl_support import Kubectl

# Debian's packages (scripts/setup installs them): the wrapper script and the driver.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 800)  # the size the issue asks the page to work on


def start_chromium() -> WebDriver:
    options = Options()
    options.binary_location = CHROMIUM
    options.add_argument("--headless=new")
    # Only because the tests run as root (CI and the dev machines do): Chromium refuses to
    # start its sandbox as root. Never a flag for a browser a person uses.
    options.add_argument("--no-sandbox")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    # /dev/shm is small in containers; Chromium then crashes tabs instead of using /tmp.
    options.add_argument("--disable-dev-shm-usage")
    # No first-run pages, no sign-in, no component or safe-browsing downloads: the tests
    # reach only 127.0.0.1.
    for flag in ("--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--disable-default-apps", "--mute-audio"):
        options.add_argument(flag)
    # The page's console (errors, failed requests), kept for a failing test's report.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium then never looks for (or downloads) a driver itself.
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


# ---- the DOM contract ----------------------------------------------------------------------

def service_sel(namespace: str, name: str) -> str:
    return f'svg#map g[data-testid="service"][data-namespace="{namespace}"][data-name="{name}"]'


def endpoint_sel(service: str, pod: str | None = None, ready: bool | None = None) -> str:
    """Endpoints of the Service `service` ("NS/NAME"), of one pod, in one state."""
    sel = f'svg#map g[data-testid="endpoint"][data-service="{service}"]'
    if pod is not None:
        sel += f'[data-pod="{pod}"]'
    if ready is not None:
        sel += f'[data-ready="{"true" if ready else "false"}"]'
    return sel


def pod_sel(namespace: str, name: str) -> str:
    return f'svg#map g[data-testid="pod"][data-namespace="{namespace}"][data-name="{name}"]'


def deployment_sel(namespace: str, name: str) -> str:
    return f'[data-testid="deployment"][data-namespace="{namespace}"][data-name="{name}"]'


def testid(name: str) -> str:
    return f'[data-testid="{name}"]'


# ---- waiting ---------------------------------------------------------------------------------

def until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """predicate()'s first truthy value; an AssertionError naming `what` and the last value
    after `timeout` s. Elements replaced by a re-render meanwhile count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except StaleElementReferenceException:
            last = "(element re-rendered)"
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def all_of(driver: WebDriver, selector: str) -> list[WebElement]:
    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def one(driver: WebDriver, selector: str, timeout: float = 10.0) -> WebElement:
    """The first element matching `selector`, waited for."""
    found: list[WebElement] = until(lambda: all_of(driver, selector), timeout, selector)
    return found[0]


def attributes(driver: WebDriver, selector: str, name: str) -> list[str]:
    """One attribute of every element matching `selector`, read in one script (elements the
    page re-renders between two WebDriver calls cannot go stale)."""
    script = ("return Array.from(document.querySelectorAll(arguments[0]))"
              ".map(e => e.getAttribute(arguments[1]))")
    return list(driver.execute_script(script, selector, name))


def text_of(driver: WebDriver, selector: str) -> str:
    """textContent of the first element matching `selector` ("" when none): SVG text too."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''"
    return str(driver.execute_script(script, selector))


def wait_connected(driver: WebDriver, timeout: float = 20.0) -> None:
    until(lambda: all_of(driver, 'body[data-connected="true"]'), timeout,
          'body[data-connected="true"] (initial lists and watches running)')


def click(driver: WebDriver, selector: str, timeout: float = 10.0) -> None:
    """A real click (the mouse on the element's centre), retried while the page re-renders
    the element under it."""
    def attempt() -> bool:
        try:
            one(driver, selector, timeout=1.0).click()
        except (StaleElementReferenceException, AssertionError):
            return False
        return True
    until(attempt, timeout, f"a clickable {selector}")


def save_screenshot(driver: WebDriver, path: Path) -> Path | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path if driver.save_screenshot(str(path)) else None
    except WebDriverException:  # a browser that died cannot take one; the failure says why
        return None


def console(driver: WebDriver) -> str:
    """The page's console messages since the last call (the driver hands each out once)."""
    try:
        entries = driver.execute("getLog", {"type": "browser"})["value"]  # Chromium's get_log
    except WebDriverException:
        return "(the browser did not answer)"
    return "\n".join(f"{e.get('level')} {e.get('message')}" for e in entries) or "(empty)"


def file_name(test_name: str) -> str:
    """A test's node name as a file name (parametrized ids carry brackets and slashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)


# ---- the page's clock against the API's -------------------------------------------------------

# Records (Date.now()) the first moment the element matching arguments[0] is in the document:
# a MutationObserver sees every change the page makes, so the time is when the page showed it,
# not when a test next polled. Date.now() and Python's time.time() read the same system clock.
RECORD_APPEARANCE = """
const selector = arguments[0], key = arguments[1];
window.__appeared = window.__appeared || {};
window.__appeared[key] = null;
const check = () => {
  if (window.__appeared[key] === null && document.querySelector(selector)) {
    window.__appeared[key] = Date.now();
  }
};
new MutationObserver(check).observe(document.documentElement,
  {subtree: true, childList: true, attributes: true, characterData: true});
check();
"""


def record_appearance(driver: WebDriver, selector: str, key: str) -> None:
    driver.execute_script(RECORD_APPEARANCE, selector, key)


def appeared_at(driver: WebDriver, key: str) -> float | None:
    """When (unix seconds) the watched element appeared on the page; None: not yet."""
    ms = driver.execute_script("return (window.__appeared || {})[arguments[0]]", key)
    return None if ms is None else float(ms) / 1000.0


class ReadyWatch:
    """`kubectl get pod NAME -w`, printing the pod's Ready condition at each change; the time
    each line arrived is kept (kubectl_support's Stream)."""

    def __init__(self, kubectl: Kubectl, pod: str, namespace: str = "default") -> None:
        jsonpath = '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}'
        self.stream = kubectl.stream("get", "pod", pod, "-n", namespace, "-w", "-o",
                                     f"jsonpath={jsonpath}", request_timeout=None)

    def first(self, status: str, timeout: float) -> float:
        """When the API first reported Ready=status."""
        def seen() -> float | None:
            return next((at for at, line in list(self.stream.arrivals)
                         if line.strip() == status), None)
        return float(until(seen, timeout, f"kubectl's watch to show Ready={status}"))

    def stop(self) -> None:
        self.stream.stop()
