"""services/proxy and pods/proxy decisions (model/kubeapi/proxypath.py) and link rewriting
(model/kubeapi/proxyhtml.py), against the 1.32 API server's rules and words."""

from __future__ import annotations

import gzip
import random
import zlib
from typing import Any

import pytest

from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.proxyhtml import (
    MAX_DECODED, go_clean, go_join, is_html, rewrite_html, rewrite_html_body, rewrite_url)
from localsvc.model.kubeapi.proxypath import (
    Location, ProxyId, dial_error, forwarded_uri, parse_pod_id, parse_service_id, pod_location,
    port_lookup_error, request_headers, response_headers, root_redirect, service_location,
    split_proxy_path, split_scheme_name_port, unreachable)

PREFIX = "/api/v1/namespaces/default/services/web:80/proxy"


def error_of(call: Any, *args: Any) -> dict[str, Any]:
    with pytest.raises(ApiError) as caught:
        call(*args)
    status: dict[str, Any] = caught.value.status
    return status


# ---- [SCHEME:]NAME[:PORT] -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("web", ProxyId("", "web", "")),
    ("web:80", ProxyId("", "web", "80")),
    ("web:http", ProxyId("", "web", "http")),
    ("https:web:443", ProxyId("https", "web", "443")),
    ("http:web:", ProxyId("http", "web", "")),
])
def test_split_scheme_name_port(text: str, expected: ProxyId) -> None:
    assert split_scheme_name_port(text) == expected


@pytest.mark.parametrize("text", ["", ":80", "ftp:web:21", "a:b:c:d", "https::443"])
def test_split_scheme_name_port_rejects(text: str) -> None:
    assert split_scheme_name_port(text) is None


def test_bad_ids_are_bad_requests_in_the_api_servers_words() -> None:
    assert error_of(parse_service_id, "ftp:web:21")["message"] == \
        'invalid service request "ftp:web:21"'
    status = error_of(parse_pod_id, "a:b:c:d")
    assert (status["code"], status["reason"], status["message"]) == \
        (400, "BadRequest", 'invalid pod request "a:b:c:d"')


# ---- the request path -----------------------------------------------------------------------

def test_split_proxy_path_keeps_the_rest_raw() -> None:
    assert split_proxy_path(PREFIX) == (PREFIX, "")
    assert split_proxy_path(PREFIX + "/") == (PREFIX, "/")
    assert split_proxy_path(PREFIX + "/a%2Fb/c/") == (PREFIX, "/a%2Fb/c/")
    with pytest.raises(ValueError):
        split_proxy_path("/api/v1/namespaces/default/services/web")


def test_root_is_redirected_to_the_slash_for_get_and_head_only() -> None:
    assert root_redirect("", "GET", PREFIX, "") == PREFIX + "/"
    assert root_redirect("", "HEAD", PREFIX, "a=1") == PREFIX + "/?a=1"
    assert root_redirect("", "POST", PREFIX, "") is None
    assert root_redirect("/", "GET", PREFIX, "") is None


def test_forwarded_uri_keeps_the_trailing_slash() -> None:
    assert forwarded_uri(PREFIX, "/") == PREFIX + "/"
    assert forwarded_uri(PREFIX, "/a/b") == PREFIX + "/a/b"
    assert forwarded_uri(PREFIX, "/a/") == PREFIX + "/a/"
    assert forwarded_uri(PREFIX, "") == PREFIX + "/"
    assert forwarded_uri(PREFIX, "//a/./b/../c") == PREFIX + "/a/c"  # Go's path.Clean


# ---- a Service's endpoint -------------------------------------------------------------------

def service(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": list(ports)}}


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Endpoints", "metadata": {"name": "web"}, "subsets": list(subsets)}


SVC = service({"name": "http", "port": 80, "targetPort": 8080},
              {"name": "admin", "port": 9000, "targetPort": 9090})
EPS = endpoints({"addresses": [{"ip": "10.0.0.5"}],
                 "notReadyAddresses": [{"ip": "10.0.0.9"}],
                 "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]})


def locate(svc: Any, eps: Any, raw: str) -> Location:
    return service_location(svc, eps, parse_service_id(raw), raw, random.Random(1))


def test_port_number_names_the_service_port_then_its_endpoint_port() -> None:
    assert locate(SVC, EPS, "web:80") == Location("http", "10.0.0.5", "8080")
    assert locate(SVC, EPS, "web:9000") == Location("http", "10.0.0.5", "9090")


def test_port_name_and_scheme() -> None:
    assert locate(SVC, EPS, "web:admin") == Location("http", "10.0.0.5", "9090")
    assert locate(SVC, EPS, "https:web:http") == Location("https", "10.0.0.5", "8080")


def test_unnamed_single_port_without_port_in_the_id() -> None:
    svc = service({"port": 80, "targetPort": 80})
    eps = endpoints({"addresses": [{"ip": "10.0.0.7"}], "ports": [{"port": 80}]})
    assert locate(svc, eps, "web") == Location("http", "10.0.0.7", "80")
    assert locate(svc, eps, "web:80") == Location("http", "10.0.0.7", "80")


def test_only_ready_addresses_are_chosen_and_all_of_them_are() -> None:
    eps = endpoints({"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
                     "notReadyAddresses": [{"ip": "10.0.0.99"}],
                     "ports": [{"name": "http", "port": 8080}]})
    rng = random.Random(7)
    chosen = {service_location(SVC, eps, parse_service_id("web:http"), "web:http", rng).host
              for _ in range(60)}
    assert chosen == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}


def test_unknown_port_number_is_503_with_the_servers_words() -> None:
    status = error_of(locate, SVC, EPS, "web:81")
    assert (status["code"], status["reason"], status["message"]) == \
        (503, "ServiceUnavailable", 'no service port 81 found for service "web"')


def test_unknown_port_name_is_no_endpoints_for_the_whole_id() -> None:
    status = error_of(locate, SVC, EPS, "web:nope")
    assert (status["code"], status["message"]) == \
        (503, 'no endpoints available for service "web:nope"')


def test_named_ports_and_no_port_in_the_id_find_nothing() -> None:
    assert error_of(locate, SVC, EPS, "web")["message"] == \
        'no endpoints available for service "web"'


def test_no_subsets_is_503_no_endpoints() -> None:
    status = error_of(locate, SVC, endpoints(), "web:80")
    assert (status["code"], status["reason"], status["message"]) == \
        (503, "ServiceUnavailable", 'no endpoints available for service "web"')


def test_only_not_ready_addresses_is_503() -> None:
    eps = endpoints({"notReadyAddresses": [{"ip": "10.0.0.9"}],
                     "ports": [{"name": "http", "port": 8080}]})
    assert error_of(locate, SVC, eps, "web:80")["code"] == 503


def test_missing_service_and_missing_endpoints_are_404s() -> None:
    status = error_of(locate, None, None, "web:80")
    assert (status["code"], status["reason"], status["message"]) == \
        (404, "NotFound", 'services "web" not found')
    # Without a port number the Service is never read: the Endpoints' absence is the answer
    # (an ExternalName Service has none either).
    assert error_of(locate, None, None, "web")["message"] == 'endpoints "web" not found'
    assert error_of(locate, SVC, None, "web:80")["message"] == 'endpoints "web" not found'


# ---- a Pod ----------------------------------------------------------------------------------

def pod(ip: str | None, *ports: int) -> dict[str, Any]:
    containers = [{"name": "a"}, {"name": "b", "ports": [{"containerPort": p} for p in ports]}]
    return {"kind": "Pod", "spec": {"containers": containers}, "status": {"podIP": ip}}


def test_pod_port_given_or_the_first_declared() -> None:
    assert pod_location(pod("10.0.0.3", 8080, 9090), parse_pod_id("p")) == \
        Location("http", "10.0.0.3", "8080")
    assert pod_location(pod("10.0.0.3", 8080), parse_pod_id("https:p:8443")) == \
        Location("https", "10.0.0.3", "8443")
    assert pod_location(pod("10.0.0.3"), parse_pod_id("p")).netloc == "10.0.0.3"
    assert Location("http", "fd00::3", "80").netloc == "[fd00::3]:80"


def test_pod_without_an_ip_is_address_not_allowed() -> None:
    for ip in (None, "", "127.0.0.1", "0.0.0.0", "169.254.1.1"):
        status = error_of(pod_location, pod(ip, 80), parse_pod_id("p:80"))
        assert (status["code"], status["message"]) == (400, "address not allowed")


def test_missing_pod_is_404() -> None:
    assert error_of(pod_location, None, parse_pod_id("p:80"))["message"] == \
        'pods "p" not found'


# ---- headers --------------------------------------------------------------------------------

def test_request_headers_drop_credentials_and_hop_by_hop() -> None:
    sent = request_headers([
        ("Authorization", "Bearer secret"), ("Connection", "keep-alive, X-Private"),
        ("X-Private", "1"), ("Keep-Alive", "5"), ("Transfer-Encoding", "chunked"),
        ("Accept", "text/html"), ("X-Forwarded-For", "10.9.9.9"), ("Cookie", "a=1"),
        ("Expect", "100-continue")],
        "172.18.0.1")
    assert sent == [("Accept", "text/html"), ("Cookie", "a=1"),
                    ("X-Forwarded-For", "10.9.9.9, 172.18.0.1")]


def test_response_headers_drop_cors_and_hop_by_hop() -> None:
    kept = response_headers([
        ("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*"),
        ("Connection", "close"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert kept == [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"),
                    ("Set-Cookie", "b=2")]


def test_unreachable_backend_is_503_in_gos_words() -> None:
    location = Location("http", "10.0.0.5", "80")
    status = unreachable(location, ConnectionRefusedError(111, "Connection refused"))
    assert (status["code"], status["reason"], status["message"]) == (
        503, "ServiceUnavailable",
        "error trying to reach service: dial tcp 10.0.0.5:80: connect: connection refused")
    assert dial_error(location, TimeoutError()) == "dial tcp 10.0.0.5:80: i/o timeout"
    assert dial_error(Location("https", "10.0.0.5", ""), OSError(113, "No route to host")) == \
        "dial tcp 10.0.0.5:443: connect: no route to host"


# ---- link rewriting -------------------------------------------------------------------------

BACKEND = "10.0.0.5:8080"
CALLER = "127.0.0.1:8001"


def rewritten(url: str) -> str:
    return rewrite_url(url, BACKEND, CALLER, PREFIX)


@pytest.mark.parametrize("url, expected", [
    ("/style.css", PREFIX + "/style.css"),
    ("/static/", PREFIX + "/static/"),
    ("/a?b=1#c", PREFIX + "/a?b=1#c"),
    ("http://10.0.0.5:8080/x", PREFIX + "/x"),  # the backend's own host: a proxy path
    (f"http://{CALLER}/x", f"http://{CALLER}{PREFIX}/x"),  # the caller's host is kept
    (PREFIX + "/already", PREFIX + "/already"),
    # path.Join cleans the joined path, dots included, as Go does.
    ("/../../etc", "/api/v1/namespaces/default/services/etc"),
])
def test_rewrite_url_absolute_paths_of_the_backend(url: str, expected: str) -> None:
    assert rewritten(url) == expected


@pytest.mark.parametrize("url", [
    "style.css", "./a/b", "../up", "#top", "?q=1", "mailto:a@b.c", "http://example.com/x",
    "//other.host/x", "",
])
def test_rewrite_url_leaves_relative_and_foreign_links(url: str) -> None:
    assert rewritten(url) == url


def test_go_clean() -> None:
    assert go_clean("/a//b/./c/../d") == "/a/b/d"
    assert go_clean("/..") == "/"


def test_go_join_cleans_and_keeps_the_trailing_slash() -> None:
    assert go_join("/p", "/a/../b/") == "/p/b/"
    assert go_join("/p", "/") == "/p/"
    assert go_join("/p/", "a//b") == "/p/a/b"
    assert go_join("/p", "") == "/p"
    assert go_join("/p", "/../..") == "/"


def test_rewrite_html_touches_only_url_attributes() -> None:
    page = ('<!DOCTYPE html><html><head><link rel=stylesheet href="/s.css">'
            "<script src='/app.js'>var a = '<a href=\"/no\">';</script></head>"
            '<body><a href="/docs/" class="x">docs</a> <a href="rel">r</a>'
            '<img alt="/not-a-url" src=/i.png><!-- <a href="/commented"> -->'
            '<form action="/post?a=1&amp;b=2" method=post></form>'
            '<p data-href="/kept">/text</p></body></html>')
    out = rewrite_html(page, rewritten)
    assert f'href="{PREFIX}/s.css"' in out
    assert f'src="{PREFIX}/app.js"' in out
    assert "var a = '<a href=\"/no\">';" in out
    assert f'<a href="{PREFIX}/docs/" class="x">' in out
    assert '<a href="rel">' in out
    assert f'<img alt="/not-a-url" src="{PREFIX}/i.png">' in out
    assert '<!-- <a href="/commented"> -->' in out
    assert f'action="{PREFIX}/post?a=1&amp;b=2"' in out
    assert '<p data-href="/kept">/text</p>' in out
    assert out.startswith("<!DOCTYPE html><html><head>")


def test_rewrite_html_keeps_a_page_without_links_byte_for_byte() -> None:
    page = "<html><body><p class=a>hi &amp; bye</p><br/></body></html>\n"
    assert rewrite_html(page, rewritten) == page


def test_rewrite_html_body_in_each_encoding() -> None:
    page = '<a href="/x">é</a>'.encode()
    expected = f'<a href="{PREFIX}/x">é</a>'.encode()
    assert rewrite_html_body(page, "", rewritten) == expected
    assert gzip.decompress(rewrite_html_body(gzip.compress(page), "gzip", rewritten)
                           or b"") == expected
    assert zlib.decompress(rewrite_html_body(zlib.compress(page), "deflate", rewritten)
                           or b"") == expected
    assert rewrite_html_body(page, "br", rewritten) is None


def test_is_html() -> None:
    assert is_html("text/html; charset=utf-8")
    assert is_html("TEXT/HTML")
    assert not is_html("text/plain")
    assert not is_html("")


def test_the_node_keeps_one_client_session_per_app_and_closes_it() -> None:
    """With add_client_session the app has its session from startup on; its cleanup closes it."""
    import asyncio

    from aiohttp import web

    from localsvc.node.kubeapi import proxy

    async def scenario() -> tuple[bool, bool, bool]:
        app = web.Application()
        proxy.add_client_session(app)
        none_before_startup = proxy._CLIENT not in app
        runner = web.AppRunner(app)
        await runner.setup()  # the app's startup
        try:
            session = app[proxy._CLIENT]
            open_while_running = not session.closed
        finally:
            await runner.cleanup()  # the app's cleanup
        return none_before_startup, open_while_running, session.closed

    assert asyncio.run(scenario()) == (True, True, True)


def test_pod_ports_go_cannot_dial_are_503s_in_its_words() -> None:
    assert port_lookup_error("8080", None) is None
    assert port_lookup_error("http", 80) is None
    unknown = port_lookup_error("nope", None)
    assert unknown is not None and (unknown["code"], unknown["message"]) == (
        503, "error trying to reach service: dial tcp: lookup tcp/nope: unknown port")
    invalid = port_lookup_error("99999", None)
    assert invalid is not None and invalid["message"] == \
        "error trying to reach service: dial tcp: address 99999: invalid port"
    # strconv.ParseInt's syntax: a sign is a number (out of range), a non-ASCII digit a name.
    negative = port_lookup_error("-1", None)
    assert negative is not None and negative["message"] == \
        "error trying to reach service: dial tcp: address -1: invalid port"
    arabic = port_lookup_error("\u0663", None)
    assert arabic is not None and arabic["message"] == \
        "error trying to reach service: dial tcp: lookup tcp/\u0663: unknown port"


def test_rewrite_html_body_passes_bodies_that_do_not_decode() -> None:
    """Regression: a corrupt or cut gzip body raised out of the proxy (the node's 500); such
    a body now passes unchanged (None)."""
    page = b'<a href="/x">x</a>'
    assert rewrite_html_body(b"not gzip at all", "gzip", rewritten) is None
    assert rewrite_html_body(gzip.compress(page)[:-6], "gzip", rewritten) is None
    assert rewrite_html_body(b"\x78\x9c garbage", "deflate", rewritten) is None
    assert rewrite_html_body(zlib.compress(page) + b"trailing", "deflate", rewritten) is None


def test_rewrite_html_body_decodes_raw_deflate_and_several_gzip_members() -> None:
    page = b'<a href="/x">x</a>'
    expected = rewrite_html_body(page, "", rewritten)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(page) + raw.flush()
    assert zlib.decompress(rewrite_html_body(raw_deflate, "deflate", rewritten)
                           or b"") == expected
    two_members = gzip.compress(page[:5]) + gzip.compress(page[5:])
    assert gzip.decompress(rewrite_html_body(two_members, "gzip", rewritten)
                           or b"") == expected


def test_rewrite_html_body_inflating_past_the_limit_passes_unchanged() -> None:
    page = b'<a href="/x">x</a>' + b" " * 1000
    assert rewrite_html_body(gzip.compress(page), "gzip", rewritten,
                             max_decoded=len(page)) is not None
    assert rewrite_html_body(gzip.compress(page), "gzip", rewritten,
                             max_decoded=len(page) - 1) is None
    assert rewrite_html_body(zlib.compress(page), "deflate", rewritten,
                             max_decoded=len(page) - 1) is None
    bomb = gzip.compress(b" " * (MAX_DECODED + 1))
    assert len(bomb) < 100_000
    assert rewrite_html_body(bomb, "gzip", rewritten) is None
