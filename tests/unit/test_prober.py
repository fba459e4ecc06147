"""Tests of localsvc.node.prober: single probe attempts against real sockets on 127.0.0.1:0, and
the threshold logic of ContainerProber driven by a scripted fake probe."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from localsvc.node import prober
from localsvc.node.prober import ContainerProber, ProbeResult, ProbeSettings, probe_once, resolve_port

Obj = dict[str, Any]
pytestmark = pytest.mark.timeout(10)


async def no_exec(command: list[str], timeout: float) -> ProbeResult:
    raise AssertionError("exec_fn must not be called")


@asynccontextmanager
async def http_server(statuses: list[int], requests: list[bytes], respond: bool = True) -> AsyncIterator[int]:
    """An HTTP server answering each request with the next status; yields its port."""
    remaining = list(statuses)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head)
        if not respond:
            await asyncio.sleep(5)
        status = remaining.pop(0)
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONTAINER: Obj = {"name": "app", "ports": [{"name": "http", "containerPort": 0}]}


def with_port(port: int) -> Obj:
    return {"name": "app", "ports": [{"name": "http", "containerPort": port}, {"name": "other", "containerPort": 1}]}


# ---- settings and ports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ({}, ProbeSettings(0, 10, 1, 1, 3)),
        ({"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3, "successThreshold": 2,
          "failureThreshold": 6}, ProbeSettings(5, 2, 3, 2, 6)),
        ({"periodSeconds": 0, "timeoutSeconds": 0}, ProbeSettings(0, 10, 1, 1, 3)),  # 0 means default
    ],
)
def test_probe_settings(probe: Obj, expected: ProbeSettings) -> None:
    assert ProbeSettings.of(probe) == expected


@pytest.mark.parametrize(("port", "expected"), [(8080, 8080), ("8080", 8080), ("http", 80), ("other", 1)])
def test_resolve_port(port: Any, expected: int) -> None:
    assert resolve_port(port, with_port(80)) == expected


def test_resolve_port_unknown_name() -> None:
    with pytest.raises(ValueError, match='port "nope" is not a named port of container app'):
        resolve_port("nope", with_port(80))


# ---- probe_once: httpGet -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "passed"),
    [(200, True), (204, True), (302, True), (399, True), (400, False), (404, False), (500, False)],
)
def test_http_get_status(status: int, passed: bool) -> None:
    async def main() -> ProbeResult:
        async with http_server([status], []) as port:
            return await probe_once({"httpGet": {"port": port, "path": "/healthz"}}, CONTAINER, "127.0.0.1", no_exec)

    ok, message, _ = asyncio.run(main())
    assert ok is passed
    if not passed:
        assert message == f"HTTP probe failed with statuscode: {status}"


def test_http_get_200_then_500_with_named_port_and_headers() -> None:
    requests: list[bytes] = []

    async def main() -> list[ProbeResult]:
        async with http_server([200, 500], requests) as port:
            probe = {"httpGet": {"port": "http", "path": "/ready?x=1",
                                 "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}
            return [await probe_once(probe, with_port(port), "127.0.0.1", no_exec) for _ in range(2)]

    results = asyncio.run(main())
    assert [ok for ok, _, _ in results] == [True, False]
    assert results[1][1] == "HTTP probe failed with statuscode: 500"
    head = requests[0].decode()
    assert head.startswith("GET /ready?x=1 HTTP/1.1\r\n")
    assert "\r\nX-Probe: yes\r\n" in head
    assert "\r\nUser-Agent: kube-probe/" in head
    assert "\r\nHost: 127.0.0.1:" in head


def test_http_get_path_without_leading_slash_is_sent_with_one() -> None:
    requests: list[bytes] = []

    async def main() -> ProbeResult:
        async with http_server([200], requests) as port:
            return await probe_once({"httpGet": {"port": port, "path": "healthz"}}, CONTAINER,
                                    "127.0.0.1", no_exec)

    assert asyncio.run(main())[0]
    assert requests[0].decode().startswith("GET /healthz HTTP/1.1\r\n")


def test_http_get_custom_host_header_replaces_the_default() -> None:
    requests: list[bytes] = []

    async def main() -> ProbeResult:
        async with http_server([200], requests) as port:
            probe = {"httpGet": {"port": port, "httpHeaders": [{"name": "Host", "value": "api.local"}]}}
            return await probe_once(probe, CONTAINER, "127.0.0.1", no_exec)

    assert asyncio.run(main())[0]
    lines = requests[0].decode().split("\r\n")
    assert lines[0] == "GET / HTTP/1.1"
    assert [line for line in lines if line.lower().startswith("host:")] == ["Host: api.local"]


def test_http_get_lowercase_host_header_replaces_the_default() -> None:
    requests: list[bytes] = []

    async def main() -> None:
        async with http_server([200], requests) as port:
            probe = {"httpGet": {"port": port, "httpHeaders": [{"name": "host", "value": "api.local"}]}}
            await probe_once(probe, CONTAINER, "127.0.0.1", no_exec)

    asyncio.run(main())
    hosts = [line for line in requests[0].decode().split("\r\n") if line.lower().startswith("host:")]
    assert hosts == ["host: api.local"]


def test_http_get_explicit_host_field_is_dialled() -> None:
    async def main() -> ProbeResult:
        async with http_server([200], []) as port:
            return await probe_once({"httpGet": {"host": "127.0.0.1", "port": port}}, CONTAINER, "10.255.255.1",
                                    no_exec)

    assert asyncio.run(main())[0]


@pytest.mark.parametrize(
    ("probe", "fragment"),
    [
        ({"httpGet": {"port": 80, "scheme": "HTTPS"}}, "only scheme HTTP is supported"),
        ({"httpGet": {"port": "nope"}}, 'port "nope" is not a named port'),
        ({"tcpSocket": {"port": "nope"}}, 'port "nope" is not a named port'),
        ({"grpc": {"port": 9000}}, "grpc probes are not supported"),
    ],
)
def test_unsupported_or_invalid_probes_fail(probe: Obj, fragment: str) -> None:
    ok, message, _ = asyncio.run(probe_once(probe, CONTAINER, "127.0.0.1", no_exec))
    assert not ok
    assert fragment in message


def test_http_get_connection_refused() -> None:
    ok, message, _ = asyncio.run(probe_once({"httpGet": {"port": closed_port()}}, CONTAINER, "127.0.0.1", no_exec))
    assert not ok and message


def test_http_get_bad_response() -> None:
    async def main() -> ProbeResult:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"garbage\r\n")
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            return await probe_once({"httpGet": {"port": port}}, CONTAINER, "127.0.0.1", no_exec)
        finally:
            server.close()

    ok, message, _ = asyncio.run(main())
    assert not ok and message.startswith("bad HTTP response")


def test_http_get_timeout() -> None:
    async def main() -> ProbeResult:
        async with http_server([200], [], respond=False) as port:
            return await probe_once({"httpGet": {"port": port}, "timeoutSeconds": 0.2}, CONTAINER, "127.0.0.1",
                                    no_exec)

    began = time.monotonic()
    ok, message, _ = asyncio.run(main())
    assert (ok, message) == (False, "timeout after 0.2s")
    assert time.monotonic() - began < 1.5


# ---- probe_once: tcpSocket and exec -------------------------------------------------------------


@pytest.mark.parametrize("named", [False, True])
def test_tcp_socket_open_and_closed(named: bool) -> None:
    async def main() -> tuple[ProbeResult, ProbeResult]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            probe = {"tcpSocket": {"port": "http" if named else port}}
            open_ = await probe_once(probe, with_port(port), "127.0.0.1", no_exec)
        finally:
            server.close()
            await server.wait_closed()
        gone = closed_port()
        probe = {"tcpSocket": {"port": "http" if named else gone}}
        return open_, await probe_once(probe, with_port(gone), "127.0.0.1", no_exec)

    (ok_open, _, _), (ok_closed, message, _) = asyncio.run(main())
    assert ok_open is True
    assert ok_closed is False and message


@pytest.mark.parametrize(("answer"), [ProbeResult(True),
                                      ProbeResult(False, "command 'cat' exited with 1", "no")])
def test_exec(answer: ProbeResult) -> None:
    """The command (as strings) and the timeout go to exec_fn; its verdict and message are the
    attempt's."""
    calls: list[tuple[list[str], float]] = []

    async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
        calls.append((command, timeout))
        return answer

    probe = {"exec": {"command": ["cat", "/tmp/healthy", 3]}, "timeoutSeconds": 4}
    assert asyncio.run(probe_once(probe, CONTAINER, "127.0.0.1", exec_fn)) == answer
    assert calls == [(["cat", "/tmp/healthy", "3"], 4.0)]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(TimeoutError(), "timeout after 1s"), (OSError("container is gone"), "container is gone"),
     (OSError(), "OSError")],
)
def test_exec_errors(error: Exception, expected: str) -> None:
    async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
        raise error

    assert asyncio.run(probe_once({"exec": {"command": ["true"]}}, CONTAINER, "127.0.0.1", exec_fn)) == (
        False, expected, expected)


def test_exec_timeout_is_a_failure() -> None:
    async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
        await asyncio.wait_for(asyncio.sleep(5), timeout)
        return ProbeResult(True)

    probe = {"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 0.1}
    assert asyncio.run(probe_once(probe, CONTAINER, "127.0.0.1", exec_fn))[:2] == (False, "timeout after 0.1s")


# ---- ContainerProber ---------------------------------------------------------------------------


class Script:
    """A fake probe_once: each probe (told apart by its exec command) answers from its script;
    once every script is used up, `done` is set and further probes block."""

    def __init__(self, **scripts: Sequence[bool | None]) -> None:
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.done = asyncio.Event()
        self.calls: list[str] = []

    async def __call__(self, probe: Obj, container: Obj, ip: str, exec_fn: Any) -> ProbeResult:
        kind = probe["exec"]["command"][0]
        self.calls.append(kind)
        script = self.scripts[kind]
        if not script:
            if not any(self.scripts.values()):
                self.done.set()
            await asyncio.Event().wait()
        return ProbeResult(script.pop(0), f"{kind} said no", f"{kind}'s output")


def probe_of(kind: str, **settings: Any) -> Obj:
    return {"exec": {"command": [kind]}, "periodSeconds": 1, **settings}


@pytest.fixture
def fast_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """asyncio.sleep that only yields, recording the delays asked for; the prober's clock moves
    on by each of them, as if it had slept."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        asked.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    monkeypatch.setattr(prober, "_now", lambda: time.time() + sum(asked))
    return asked


def run_prober(
    monkeypatch: pytest.MonkeyPatch, container: Obj, script: Script, started_at: float | None = None,
) -> tuple[list[bool], list[str]]:
    ready: list[bool] = []
    kills: list[str] = []
    monkeypatch.setattr(prober, "probe_once", script)

    async def main() -> None:
        p = ContainerProber(container, "127.0.0.1", time.time() - 100 if started_at is None else started_at,
                            no_exec, lambda r, m: ready.append(r), lambda kind, why: kills.append(why))
        task = asyncio.ensure_future(p.run())
        done = asyncio.ensure_future(script.done.wait())
        await asyncio.wait_for(asyncio.wait({task, done}, return_when=asyncio.FIRST_COMPLETED), 1.5)
        task.cancel()
        done.cancel()
        await asyncio.gather(task, done, return_exceptions=True)

    asyncio.run(main())
    return ready, kills


T, F = True, False


@pytest.mark.parametrize(
    ("settings", "results", "reported"),
    [
        ({}, [T], [True]),
        ({}, [T, T, T], [True]),  # reported once
        ({}, [F], [False]),  # not ready from the first failure
        ({}, [F, F, F, F], [False]),
        ({}, [F, T, F, F, F, T], [False, True, False, True]),
        ({}, [T, F, F, T, F, F, F], [True, False]),  # two failures are under the threshold
        ({"failureThreshold": 1}, [T, F, T], [True, False, True]),
        ({"successThreshold": 2}, [T, T], [True]),
        ({"successThreshold": 2}, [F, T, F, T, T], [False, True]),
        ({"successThreshold": 3, "failureThreshold": 2}, [T, T, T, F, F, T, T, T], [True, False, True]),
    ],
)
def test_readiness_thresholds(
    monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float], settings: Obj, results: list[bool],
    reported: list[bool],
) -> None:
    script = Script(ready=results)
    ready, kills = run_prober(monkeypatch, {"name": "c", "readinessProbe": probe_of("ready", **settings)}, script)
    assert ready == reported
    assert kills == []
    assert all(0 <= d <= 1 for d in fast_sleep)


@pytest.mark.parametrize(
    ("settings", "results", "killed"),
    [
        ({}, [T, F, F, T, F, F], False),
        ({}, [T, F, F, F], True),
        ({"failureThreshold": 1}, [F], True),
    ],
)
def test_liveness_kills_once_after_failure_threshold(
    monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float], settings: Obj, results: list[bool], killed: bool,
) -> None:
    script = Script(live=results)
    ready, kills = run_prober(monkeypatch, {"name": "c", "livenessProbe": probe_of("live", **settings)}, script)
    assert kills == (["Liveness probe failed: live said no"] if killed else [])
    assert ready == []


N = None  # the attempt was not run (every exec-probe slot of the node was taken)


@pytest.mark.parametrize(
    ("results", "reported"),
    [
        ([N, N, N, N], [False]),  # not ready, said once, with the reason
        ([T, N, N, N, N], [True]),  # a busy node does not make a ready container unready
        ([F, N, F, N, F], [False]),
        ([T, F, N, F, N, F], [True, False]),  # not-run attempts neither count nor reset
        ([T, F, N, T, F, F], [True]),
    ],
)
def test_readiness_attempts_not_run_count_neither_way(
    monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float], results: list[bool | None],
    reported: list[bool],
) -> None:
    ready, kills = run_prober(monkeypatch, {"name": "c", "readinessProbe": probe_of("ready")},
                              Script(ready=results))
    assert (ready, kills) == (reported, [])


@pytest.mark.parametrize(
    ("results", "killed"),
    [([N] * 10, False), ([F, N, F, N, N, T, F, F], False), ([F, N, F, N, F], True)],
)
def test_liveness_attempts_not_run_never_restart(
    monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float], results: list[bool | None],
    killed: bool,
) -> None:
    """Case 3: on a node whose exec-probe slots are all taken, a container's liveness probe that
    could not run must not get it restarted."""
    ready, kills = run_prober(monkeypatch, {"name": "c", "livenessProbe": probe_of("live")},
                              Script(live=results))
    assert kills == (["Liveness probe failed: live said no"] if killed else [])


def test_startup_not_run_neither_passes_nor_fails(
    monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float]
) -> None:
    script = Script(start=[N, N, N, T], ready=[T])
    container = {"name": "c", "startupProbe": probe_of("start", failureThreshold=1),
                 "readinessProbe": probe_of("ready")}
    ready, kills = run_prober(monkeypatch, container, script)
    assert script.calls[:5] == ["start", "start", "start", "start", "ready"]
    assert (ready, kills) == ([True], [])


def test_the_reason_of_a_readiness_probe_not_run(monkeypatch: pytest.MonkeyPatch,
                                                 fast_sleep: list[float]) -> None:
    messages: list[str] = []
    monkeypatch.setattr(prober, "probe_once", Script(ready=[N, N]))

    async def main() -> None:
        p = ContainerProber({"name": "c", "readinessProbe": probe_of("ready")}, "127.0.0.1",
                            time.time() - 100, no_exec, lambda r, m: messages.append(m), print)
        task = asyncio.ensure_future(p.run())
        for _ in range(100):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert messages == ["Readiness probe not run: ready said no"]


def test_startup_gates_the_other_probes(monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float]) -> None:
    script = Script(start=[F, F, T], ready=[T], live=[T])
    container = {"name": "c", "startupProbe": probe_of("start", failureThreshold=5),
                 "readinessProbe": probe_of("ready"), "livenessProbe": probe_of("live")}
    ready, kills = run_prober(monkeypatch, container, script)
    assert script.calls[:3] == ["start", "start", "start"]
    assert sorted(script.calls[3:5]) == ["live", "ready"]
    assert ready == [True] and kills == []


def test_startup_failure_kills_and_stops(monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float]) -> None:
    script = Script(start=[F, F], ready=[T])
    container = {"name": "c", "startupProbe": probe_of("start", failureThreshold=2),
                 "readinessProbe": probe_of("ready")}
    ready, kills = run_prober(monkeypatch, container, script)
    assert kills == ["Startup probe failed: start said no"]
    assert ready == []
    assert "ready" not in script.calls


def test_initial_delay_counts_from_container_start(monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float]) -> None:
    script = Script(ready=[T])
    container = {"name": "c", "readinessProbe": probe_of("ready", initialDelaySeconds=30)}
    run_prober(monkeypatch, container, script, started_at=time.time() - 10)
    assert 19 < fast_sleep[0] <= 20  # the remaining 20 s of the delay
    fast_sleep.clear()
    run_prober(monkeypatch, container, Script(ready=[T]), started_at=time.time() - 100)
    assert not fast_sleep or fast_sleep[0] <= 1  # long started: no initial wait


def test_no_probes_returns_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ready, kills = run_prober(monkeypatch, {"name": "c"}, Script())
    assert (ready, kills) == ([], [])


def test_real_probe_once_through_the_prober(monkeypatch: pytest.MonkeyPatch, fast_sleep: list[float]) -> None:
    """The real probe_once (exec) driven by ContainerProber; only the period wait is faked."""
    ready: list[bool] = []
    messages: list[str] = []
    codes = [1, 0, 0]

    async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
        code = codes.pop(0) if codes else 0
        return ProbeResult(code == 0, f"exited with {code}")

    async def main() -> None:
        container = {"name": "c", "readinessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 1}}
        def on_ready(ok: bool, message: str) -> None:
            ready.append(ok)
            messages.append(message)

        p = ContainerProber(container, "127.0.0.1", time.time(), exec_fn, on_ready, lambda k, m: None)
        task = asyncio.ensure_future(p.run())
        for _ in range(1000):
            if not codes:
                break
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert ready == [False, True]
    # The pod shows why it is not ready; becoming ready clears the reason.
    assert messages == ["Readiness probe failed: exited with 1", ""]
