"""services/proxy and pods/proxy through the real kubectl v1.32: `kubectl get --raw` and
`kubectl proxy`, against the echo server of proxy_echo.py and the backend-service example.
One environment for the module. (Streams and upgrades: test_kubectl_proxy_streams.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest

from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, apply_example, kubectl, shared_env)
from tests.integration.proxy_echo import (  # noqa: F401  (fixtures used by name)
    base, call, echo_ns, echoed_headers, proxy_port, raw_json)

# ---- kubectl get --raw ----------------------------------------------------------------------

def test_service_by_port_number_reaches_a_backend(kubectl: Kubectl) -> None:
    namespace = kubectl.namespace(f"proxy-ex-{uuid.uuid4().hex[:6]}")
    try:
        apply_example(kubectl, namespace)
        answer = kubectl.out("get", "--raw",
                             base(namespace, "services/backend-service:80") + "/")
        assert re.fullmatch(r"hello from backend-[a-z0-9]+-[a-z0-9]+ \(10\.[0-9.]+\)\n", answer)
    finally:
        kubectl.remove_namespace(namespace)


def test_service_by_port_name_and_scheme_keeps_path_and_query(kubectl: Kubectl,
                                                            echo_ns: str) -> None:
    for name in ("echo:web", "http:echo:web", "echo:80"):
        echo = raw_json(kubectl, base(echo_ns, f"services/{name}") + "/some/path?a=1&b=two")
        assert (echo["method"], echo["path"]) == ("GET", "/some/path?a=1&b=two")
        # kubectl sent its bearer token to the API; the pod never sees it.
        assert "authorization" not in echoed_headers(echo)
        assert echoed_headers(echo)["x-forwarded-uri"] == \
            base(echo_ns, f"services/{name}") + "/some/path"


def test_pod_proxy_with_a_port_and_with_the_first_declared_port(kubectl: Kubectl,
                                                               echo_ns: str) -> None:
    for name in ("echo:8080", "echo", "http:echo:8080"):
        echo = raw_json(kubectl, base(echo_ns, f"pods/{name}") + "/p?q=1")
        assert echo["path"] == "/p?q=1"
        assert "authorization" not in echoed_headers(echo)


@pytest.mark.parametrize("what, words", [
    ("services/missing:80", 'Error from server (NotFound): services "missing" not found'),
    ("services/missing", 'Error from server (NotFound): endpoints "missing" not found'),
    ("services/echo:99",
     'Error from server (ServiceUnavailable): no service port 99 found for service "echo"'),
    ("services/echo:nope",
     'Error from server (ServiceUnavailable): no endpoints available for service "echo:nope"'),
    ("services/lonely:80",
     'Error from server (ServiceUnavailable): no endpoints available for service "lonely"'),
    # The 1.32 API server resolves every Service through its Endpoints, which an ExternalName
    # Service has none of (no selector): it does not proxy to the external name.
    ("services/elsewhere", 'Error from server (NotFound): endpoints "elsewhere" not found'),
    ("services/ftp:echo:80",
     'Error from server (BadRequest): invalid service request "ftp:echo:80"'),
    ("pods/missing:80", 'Error from server (NotFound): pods "missing" not found'),
    ("pods/echo:nope", "Error from server (ServiceUnavailable): error trying to reach service: "
                       "dial tcp: lookup tcp/nope: unknown port"),
    ("pods/echo:99999", "Error from server (ServiceUnavailable): error trying to reach service: "
                        "dial tcp: address 99999: invalid port"),
])
def test_errors_in_the_api_servers_words(kubectl: Kubectl, echo_ns: str, what: str,
                                         words: str) -> None:
    result = kubectl.run("get", "--raw", base(echo_ns, what) + "/", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == words


def test_a_refused_backend_is_503_error_trying_to_reach_service(kubectl: Kubectl,
                                                                echo_ns: str) -> None:
    result = kubectl.run("get", "--raw", base(echo_ns, "services/echo:closed") + "/",
                         check=False)
    assert result.returncode == 1
    assert re.fullmatch(r"Error from server \(ServiceUnavailable\): error trying to reach "
                        r"service: dial tcp 10\.[0-9.]+:8081: connect: connection refused",
                        result.stderr.strip()), result.stderr


# ---- kubectl proxy --------------------------------------------------------------------------


# ---- kubectl proxy --------------------------------------------------------------------------

def test_kubectl_proxy_every_method_with_bodies_and_no_credentials(
        proxy_port: int, echo_ns: str) -> None:
    path = base(echo_ns, "services/echo:web") + "/api/items?page=2"
    body = bytes(range(256)) * 12_000  # 3 MB
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        sent = body if method in ("POST", "PUT", "PATCH") else None
        # kubectl proxy adds its bearer token (a caller's own Authorization would replace it
        # and be refused by the API): the node must keep it from the pod.
        response, data = call(proxy_port, method, path, sent, {
            "X-Custom": "kept", "Content-Type": "application/octet-stream"})
        assert response.status == 200, data
        echo = json.loads(data)
        assert (echo["method"], echo["path"]) == (method, "/api/items?page=2")
        assert (echo["length"], echo["sha256"]) == (
            (len(sent), hashlib.sha256(sent).hexdigest()) if sent else
            (0, hashlib.sha256(b"").hexdigest()))
        headers = echoed_headers(echo)
        assert "authorization" not in headers
        assert headers["x-custom"] == "kept"


def test_kubectl_proxy_rewrites_html_links_and_redirects(proxy_port: int,
                                                         echo_ns: str) -> None:
    prefix = base(echo_ns, "services/echo:web")
    response, page = call(proxy_port, "GET", prefix + "/page.html")
    assert response.status == 200
    text = page.decode()
    assert f'<a href="{prefix}/docs/">docs</a>' in text
    assert f'<link href="{prefix}/s.css" rel=stylesheet>' in text
    assert '<a href="rel">rel</a>' in text
    assert '<a href="http://example.com/x">out</a>' in text
    assert response.getheader("Content-Length") == str(len(page))

    response, _ = call(proxy_port, "GET", prefix + "/go")
    assert (response.status, response.getheader("Location")) == (302, prefix + "/target/")

    response, _ = call(proxy_port, "GET", prefix + "?x=1")
    assert (response.status, response.getheader("Location")) == (301, prefix + "/?x=1")


def test_an_html_page_that_does_not_decode_passes_unchanged(proxy_port: int,
                                                           echo_ns: str) -> None:
    """Regression: a page labelled gzip that is not gzip was the node's 500 ("a bug in
    localsvc"); it now passes as the backend sent it, links untouched."""
    prefix = base(echo_ns, "services/echo:web")
    response, page = call(proxy_port, "GET", prefix + "/bad-gzip")
    assert response.status == 200, page
    assert response.getheader("Content-Encoding") == "gzip"
    assert page == b"<a href=/x>not gzip</a>"
