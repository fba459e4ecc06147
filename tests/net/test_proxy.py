"""The userspace proxy on real sockets: ClusterIPs are 127.0.0.x addresses (all of 127/8 is
local on Linux), endpoints are small asyncio servers on 127.0.0.1 ports chosen by the kernel."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.net.proxy import ListenerKey, UserspaceProxy
from tests.net.loops import loop_fixture, run
from tests.net.ports import free_port

_next_ip = itertools.count(50)


def cluster_ip() -> str:
    """A fresh 127.0.0.x per test, so listeners of different tests never meet."""
    return f"127.0.0.{next(_next_ip)}"


def snapshot(
    ip: str,
    port: int,
    backends: list[tuple[str, int]],
    *,
    protocol: str = "TCP",
    affinity: int | None = None,
    ready: bool = True,
) -> Snapshot:
    eps = tuple(Endpoint(ip=b_ip, ready=ready, ports={"": b_port}) for b_ip, b_port in backends)
    return Snapshot(
        services=(
            ServiceInfo(
                "default",
                "svc",
                "ClusterIP",
                ip,
                (ServicePort("", protocol, port),),
                eps,
                affinity_timeout=affinity,
            ),
        )
    )


loop_kind = loop_fixture(autouse=True)


class Backends:
    """TCP endpoints that greet with their name, then echo; or read to EOF and answer."""

    def __init__(self) -> None:
        self.servers: list[asyncio.AbstractServer] = []

    async def identify(self, name: str) -> tuple[str, int]:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(f"{name}\n".encode())
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.close()

        return await self._start(handle)

    async def until_eof(self) -> tuple[str, int]:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            data = await r.read()  # until the client's EOF (half-close)
            w.write(b"got " + str(len(data)).encode())
            await w.drain()
            w.close()

        return await self._start(handle)

    async def _start(self, handle: Any) -> tuple[str, int]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.servers.append(server)
        return "127.0.0.1", int(server.sockets[0].getsockname()[1])

    def close(self) -> None:
        for s in self.servers:
            s.close()


async def whoami(ip: str, port: int, source: str | None = None) -> str:
    reader, writer = await asyncio.open_connection(
        ip, port, local_addr=(source, 0) if source else None
    )
    name = (await reader.readline()).decode().strip()
    writer.close()
    return name


@pytest.fixture
def backends() -> Iterator[Backends]:
    b = Backends()
    yield b
    b.close()


def test_tcp_spreads_over_three_endpoints(backends: Backends) -> None:
    async def main() -> None:
        eps = [await backends.identify(n) for n in ("a", "b", "c")]
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, eps))
        await proxy.wait_started()
        seen = [await whoami(ip, port) for _ in range(60)]
        assert set(seen) == {"a", "b", "c"}
        assert min(seen.count(n) for n in "abc") >= 5
        await proxy.stop()

    run(main)


def test_affinity_pins_a_client_until_timeout(backends: Backends) -> None:
    async def main() -> None:
        eps = [await backends.identify(n) for n in ("a", "b", "c")]
        ip, now = cluster_ip(), [1000.0]
        port = free_port(ip)
        proxy = UserspaceProxy(clock=lambda: now[0])
        proxy.update(snapshot(ip, port, eps, affinity=60))
        pinned = {await whoami(ip, port, source="127.0.0.201") for _ in range(20)}
        assert len(pinned) == 1
        seen = set()
        for _ in range(30):  # each connection after the timeout picks afresh
            now[0] += 61
            seen.add(await whoami(ip, port, source="127.0.0.201"))
        assert len(seen) > 1
        await proxy.stop()

    run(main)


def test_refused_at_once_without_ready_endpoint(backends: Backends) -> None:
    async def main() -> None:
        ep = await backends.identify("a")
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep], ready=False))
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(ip, port)
        assert time.monotonic() - started < 0.5
        proxy.update(snapshot(ip, port, [ep]))
        assert await whoami(ip, port) == "a"
        proxy.update(snapshot(ip, port, []))  # endpoint gone: listener gone, refused again
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(ip, port)
        await proxy.stop()

    run(main)


def test_refusing_endpoint_is_skipped(backends: Backends) -> None:
    async def main() -> None:
        live = await backends.identify("live")
        dead = ("127.0.0.1", free_port("127.0.0.1"))  # nothing listens there: refused
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [live, dead]))
        assert {await whoami(ip, port) for _ in range(20)} == {"live"}
        await proxy.stop()

    run(main)


def test_all_endpoints_refusing_closes_the_client(backends: Backends) -> None:
    async def main() -> None:
        dead = [("127.0.0.1", free_port("127.0.0.1")) for _ in range(2)]
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, dead))
        reader, writer = await asyncio.open_connection(ip, port)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await reader.readexactly(1)
        writer.close()
        await proxy.stop()

    run(main)


def test_update_keeps_established_connection(backends: Backends) -> None:
    async def main() -> None:
        a = await backends.identify("a")
        b = await backends.identify("b")
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [a]))
        reader, writer = await asyncio.open_connection(ip, port)
        assert await reader.readline() == b"a\n"
        proxy.update(snapshot(ip, port, [b]))  # a is no longer an endpoint; kept listener
        assert list(proxy.listeners) == [ListenerKey(ip, port, "TCP")]
        writer.write(b"still there\n")
        assert await reader.readline() == b"still there\n"
        assert await whoami(ip, port) == "b"  # new connections use the new endpoints
        writer.close()
        await proxy.stop()

    run(main)


def test_half_close(backends: Backends) -> None:
    async def main() -> None:
        ep = await backends.until_eof()
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep]))
        reader, writer = await asyncio.open_connection(ip, port)
        writer.write(b"x" * 100_000)
        writer.write_eof()  # the endpoint answers only after our EOF
        assert await reader.read() == b"got 100000"
        writer.close()
        await proxy.stop()

    run(main)


def test_large_transfer_with_flow_control(backends: Backends) -> None:
    async def main() -> None:
        ep = await backends.identify("a")
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep]))
        reader, writer = await asyncio.open_connection(ip, port)
        assert await reader.readline() == b"a\n"
        payload = bytes(range(256)) * 80_000  # ~20 MB, far beyond any socket buffer
        writer.write(payload)  # no drain: the proxy must not buffer all of it unboundedly
        received = await reader.readexactly(len(payload))
        assert received == payload
        writer.close()
        await proxy.stop()

    run(main)


def test_failed_listener_is_recorded_others_run(backends: Backends) -> None:
    async def main() -> None:
        ep = await backends.identify("a")
        ip = cluster_ip()
        port = free_port(ip)
        good = snapshot(ip, port, [ep]).services[0]
        bad = ServiceInfo(
            "default",
            "bad",
            "ClusterIP",
            "192.0.2.1",  # not a local address
            (ServicePort("", "TCP", 80),),
            (Endpoint("127.0.0.1", True, {"": 1}),),
        )
        proxy = UserspaceProxy()
        proxy.update(Snapshot(services=(good, bad)))
        assert ListenerKey("192.0.2.1", 80, "TCP") in proxy.failures
        assert await whoami(ip, port) == "a"
        await proxy.stop()

    run(main)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, name: bytes = b"") -> None:
        self.name = name
        self.got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.name and self.transport is not None:
            self.transport.sendto(self.name + b":" + data, addr)  # an echo endpoint
        else:
            self.got.put_nowait((data, addr))


async def udp_endpoint(name: bytes) -> tuple[asyncio.DatagramTransport, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(name), local_addr=("127.0.0.1", 0)
    )
    return transport, transport.get_extra_info("sockname")


def test_udp_echo_replies_from_cluster_ip() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        t1, ep1 = await udp_endpoint(b"u1")
        t2, ep2 = await udp_endpoint(b"u2")
        ip = cluster_ip()
        port = free_port(ip, socket.SOCK_DGRAM)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep1, ep2], protocol="UDP"))
        names = set()
        for _ in range(12):
            transport, client = await loop.create_datagram_endpoint(
                _Udp, local_addr=("127.0.0.1", 0)
            )
            for i in range(3):
                transport.sendto(f"hello{i}".encode(), (ip, port))
                data, addr = await asyncio.wait_for(client.got.get(), 5)
                assert addr == (ip, port)
                name, _, body = data.partition(b":")
                assert body == f"hello{i}".encode()
                names.add(name)
            transport.close()
        assert names == {b"u1", b"u2"}  # flows spread; each flow stays on one endpoint
        await proxy.stop()
        t1.close()
        t2.close()

    run(main)


def test_udp_flow_expires_when_idle() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        t1, ep1 = await udp_endpoint(b"u1")
        ip = cluster_ip()
        port = free_port(ip, socket.SOCK_DGRAM)
        proxy = UserspaceProxy(udp_idle_timeout=0.3)
        proxy.update(snapshot(ip, port, [ep1], protocol="UDP"))
        listener: Any = proxy.listeners[ListenerKey(ip, port, "UDP")]
        transport, client = await loop.create_datagram_endpoint(_Udp, local_addr=("127.0.0.1", 0))
        transport.sendto(b"ping", (ip, port))
        assert (await asyncio.wait_for(client.got.get(), 5))[0] == b"u1:ping"
        assert len(listener.flows) == 1
        await asyncio.sleep(0.8)
        assert len(listener.flows) == 0
        transport.sendto(b"again", (ip, port))  # a new flow opens
        assert (await asyncio.wait_for(client.got.get(), 5))[0] == b"u1:again"
        transport.close()
        await proxy.stop()
        t1.close()

    run(main)


def test_udp_refused_without_endpoint() -> None:
    async def main() -> None:
        ip = cluster_ip()
        port = free_port(ip, socket.SOCK_DGRAM)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [("127.0.0.1", 9)], protocol="UDP", ready=False))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((ip, port))
            s.settimeout(2)
            s.send(b"x")
            with pytest.raises(ConnectionRefusedError):  # ICMP port unreachable, at once
                s.recv(100)
        await proxy.stop()

    run(main)


def test_backpressure_bounds_proxy_buffers() -> None:
    """An endpoint that does not read: the proxy stops reading from the client instead of
    buffering everything the client sends."""

    async def main() -> None:
        release = asyncio.Event()

        async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await release.wait()
            while await r.read(65536):
                pass
            w.close()

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        ep = ("127.0.0.1", int(server.sockets[0].getsockname()[1]))
        ip = cluster_ip()
        port = free_port(ip)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep]))
        _, writer = await asyncio.open_connection(ip, port)
        writer.write(b"y" * 30_000_000)
        await asyncio.sleep(1.0)
        (relay,) = proxy.relays
        assert relay.upstream.transport is not None
        assert relay.upstream.transport.get_write_buffer_size() < 2_000_000
        assert writer.transport.get_write_buffer_size() > 10_000_000  # held back at the client
        release.set()
        await asyncio.wait_for(writer.drain(), 20)
        writer.close()
        await proxy.stop()
        server.close()

    run(main)


# ------------------------------------------------------------------- end to end, in containers

BASE_IMAGE = "localsvc/debian-python:bookworm-f2a1e29fa650"
E2E_LABEL = "io.localsvc.env=nfttest"
E2E_NET = "localsvc-nfttest"
SRC = Path(__file__).resolve().parents[2] / "localsvc"

# Runs in the node container: applies /tmp/snapshot.json whenever it changes.
NODE_SCRIPT = r"""
import asyncio, json, os, sys
from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.net.dataplane import make_dataplane, tune_sysctls

def load(path):
    raw = json.load(open(path))
    return Snapshot(version=raw["version"], services=tuple(
        ServiceInfo(s["ns"], s["name"], "ClusterIP", s["ip"],
                    tuple(ServicePort(n, p, port) for n, p, port in s["ports"]),
                    tuple(Endpoint(ip, True, ports) for ip, ports in s["endpoints"]),
                    affinity_timeout=s.get("affinity"))
        for s in raw["services"]))

async def main():
    print("SYSCTLS", json.dumps(tune_sysctls("eth0")), flush=True)
    dp = await make_dataplane(sys.argv[1], "eth0", "10.250.0.128/25")
    print("DATAPLANE", type(dp).__name__, flush=True)
    seen = None
    while True:
        try:
            stamp = os.stat("/tmp/snapshot.json").st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != seen:
            seen = stamp
            snap = load("/tmp/snapshot.json")
            await dp.apply(snap)
            kind = getattr(getattr(dp, "stats", None), "last_kind", "")
            print("APPLIED", snap.version, kind, flush=True)
        await asyncio.sleep(0.1)

asyncio.run(main())
"""

# Runs in the backends: HTTP on 8080 answering its name, UDP echo on 5353 prefixed by its name.
BACKEND_SCRIPT = r"""
import http.server, socket, sys, threading
name = sys.argv[1].encode()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5353))
    while True:
        data, addr = s.recvfrom(2048); s.sendto(name + b":" + data, addr)
threading.Thread(target=udp, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(name)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""

# Runs in the client: prints one JSON result for the probe named in argv.
CLIENT_SCRIPT = r"""
import json, socket, sys, time, urllib.request
kind, ip, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = []
for _ in range(n):
    t = time.monotonic()
    try:
        if kind == "http":
            out.append(urllib.request.urlopen(f"http://{ip}:{port}/", timeout=5).read().decode())
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
            s.sendto(b"hi", (ip, port)); data, addr = s.recvfrom(2048); s.close()
            out.append(data.decode() + "@" + addr[0])
    except Exception as e:
        reason = getattr(e, "reason", e)
        out.append(f"ERR {type(reason).__name__} {time.monotonic() - t:.2f}s")
print(json.dumps(out))
"""


def docker(*args: str, stdin: str | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}: {result.stderr}")
    return result.stdout


def e2e_cleanup() -> None:
    ids = docker("ps", "-aq", "--filter", f"label={E2E_LABEL}").split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    for net in docker("network", "ls", "-q", "--filter", f"label={E2E_LABEL}").split():
        docker("network", "rm", net, check=False)


def e2e_snapshot(
    version: int, backends: list[str], affinity_backends: list[str], empty: bool = True
) -> str:
    def svc(name: str, ip: str, eps: list[str], affinity: int | None = None) -> dict[str, Any]:
        return {
            "ns": "default",
            "name": name,
            "ip": ip,
            "affinity": affinity,
            "ports": [["http", "TCP", 80], ["dns", "UDP", 53]],
            "endpoints": [[e, {"http": 8080, "dns": 5353}] for e in eps],
        }

    services = [svc("web", "10.250.0.200", backends)]
    services += [svc("empty", "10.250.0.201", [])] if empty else []
    services += [svc("sticky", "10.250.0.202", affinity_backends, affinity=600)]
    return json.dumps({"version": version, "services": services})


def wait_log(container: str, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True, check=False
        )
        text = logs.stdout + logs.stderr
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{container}: no {needle!r} in logs:\n{text}")


def apply(snapshot_json: str) -> None:
    command = "cat > /tmp/s && mv /tmp/s /tmp/snapshot.json"
    docker("exec", "-i", "nfttest-node", "sh", "-c", command, stdin=snapshot_json)


def probe(kind: str, ip: str, port: int, n: int, container: str = "nfttest-client") -> list[str]:
    out = docker("exec", container, "python3", "-c", CLIENT_SCRIPT, kind, ip, str(port), str(n))
    return list(json.loads(out))


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["nftables", "userspace"])
def test_dataplane_in_containers(mode: str, loop_kind: str) -> None:
    if loop_kind != "asyncio":
        pytest.skip("the node's loop is the container's business")
    e2e_cleanup()
    try:
        docker(
            "network",
            "create",
            "--subnet",
            "10.250.0.0/24",
            "--ip-range",
            "10.250.0.0/25",
            "--label",
            E2E_LABEL,
            E2E_NET,
        )
        run_args = ["run", "-d", "--label", E2E_LABEL, "--network", E2E_NET]
        for name, ip in (("b1", "10.250.0.11"), ("b2", "10.250.0.12")):
            docker(
                *run_args,
                "--name",
                f"nfttest-{name}",
                "--ip",
                ip,
                BASE_IMAGE,
                "python3",
                "-c",
                BACKEND_SCRIPT,
                name,
            )
        docker(
            *run_args,
            "--name",
            "nfttest-client",
            "--ip",
            "10.250.0.20",
            BASE_IMAGE,
            "python3",
            "-c",
            "import time; time.sleep(3600)",
        )
        docker(
            *run_args,
            "--name",
            "nfttest-node",
            "--ip",
            "10.250.0.2",
            "--cap-add",
            "NET_ADMIN",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "-v",
            f"{SRC}:/src/localsvc:ro",
            "-e",
            "PYTHONPATH=/src",
            BASE_IMAGE,
            "python3",
            "-u",
            "-c",
            NODE_SCRIPT,
            mode,
        )
        both = ["10.250.0.11", "10.250.0.12"]
        apply(e2e_snapshot(1, both, both))
        logs = wait_log("nfttest-node", "APPLIED 1")
        assert ("NftDataplane" if mode == "nftables" else "UserspaceDataplane") in logs

        assert set(probe("http", "10.250.0.200", 80, 20)) == {"b1", "b2"}
        udp = probe("udp", "10.250.0.200", 53, 12)
        assert {u.split("@")[1] for u in udp} == {"10.250.0.200"}  # replies from the ClusterIP
        assert {u.split(":")[0] for u in udp} <= {"b1", "b2"}
        pinned = set(probe("http", "10.250.0.202", 80, 10))
        assert len(pinned) == 1  # ClientIP affinity
        refused = probe("http", "10.250.0.201", 80, 3)
        assert all(r.startswith("ERR ConnectionRefusedError") for r in refused), refused
        assert all(float(r.split()[-1][:-1]) < 1 for r in refused), refused
        # traffic that starts in the node itself (output path)
        assert set(probe("http", "10.250.0.200", 80, 10, container="nfttest-node")) <= {"b1", "b2"}
        # hairpin: an endpoint reaching its own Service gets itself too (masqueraded replies)
        assert set(probe("http", "10.250.0.200", 80, 20, container="nfttest-b1")) == {"b1", "b2"}

        # another Service changes: the sticky client stays pinned across the sync
        apply(e2e_snapshot(2, ["10.250.0.12"], both))
        wait_log("nfttest-node", "APPLIED 2")
        if mode == "nftables":  # checked before any new connection could pin the client again
            sets = docker("exec", "nfttest-node", "nft", "list", "sets", "table", "ip", "localsvc")
            assert "10.250.0.20 " in sets, sets
        assert set(probe("http", "10.250.0.200", 80, 10)) == {"b2"}
        assert set(probe("http", "10.250.0.202", 80, 10)) == pinned

        # endpoints gone: refused at once; a deleted Service's address leaves eth0
        apply(e2e_snapshot(3, ["10.250.0.12"], [], empty=False))
        wait_log("nfttest-node", "APPLIED 3")
        refused = probe("http", "10.250.0.202", 80, 2)
        assert all(r.startswith("ERR ConnectionRefusedError") for r in refused), refused
        addrs = docker("exec", "nfttest-node", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        assert "10.250.0.2/24" in addrs and "10.250.0.200/32" in addrs
        assert "10.250.0.201/" not in addrs

        # endpoints back (an added one, a Service back from none): traffic follows again
        apply(e2e_snapshot(4, both, ["10.250.0.11"], empty=False))
        logs = wait_log("nfttest-node", "APPLIED 4")
        assert set(probe("http", "10.250.0.200", 80, 20)) == {"b1", "b2"}
        assert set(probe("http", "10.250.0.202", 80, 5)) == {"b1"}
        if mode != "nftables":
            return
        # the first sync renders the table, the others change it
        assert "APPLIED 1 full" in logs, logs
        for version in (2, 3, 4):
            assert f"APPLIED {version} partial" in logs, logs
        # the table is not what the node holds (deleted behind its back): the partial sync
        # fails and the full render takes over
        docker("exec", "nfttest-node", "nft", "delete", "table", "ip", "localsvc")
        apply(e2e_snapshot(5, ["10.250.0.11"], ["10.250.0.11"], empty=False))
        logs = wait_log("nfttest-node", "APPLIED 5")
        assert "APPLIED 5 full" in logs and "partial nftables sync failed" in logs, logs
        assert set(probe("http", "10.250.0.200", 80, 10)) == {"b1"}
    finally:
        e2e_cleanup()
