"""The userspace proxy counts the connections (UDP: flows) each service port accepted, on real
loopback sockets (ClusterIPs are 127.0.2.x addresses): what /v1/connections reports in
userspace mode."""

from __future__ import annotations

import asyncio
import socket

from localsvc.net.connections import connection_counts
from localsvc.net.nftables import port_rules
from localsvc.net.proxy import UserspaceProxy
from tests.net.loops import loop_fixture, run
from tests.net.ports import free_port
from tests.net.test_proxy import Backends, _Udp, snapshot, udp_endpoint, whoami

loop_kind = loop_fixture(autouse=True)


def test_tcp_connections_are_counted_per_service_port() -> None:
    async def main() -> None:
        backends = Backends()
        ep = await backends.identify("a")
        ip = "127.0.2.10"
        port = free_port(ip)
        proxy = UserspaceProxy()
        state = snapshot(ip, port, [ep])
        proxy.update(state)
        await proxy.wait_started()
        assert dict(proxy.accepted) == {}
        for _ in range(7):
            assert await whoami(ip, port) == "a"
        body = connection_counts(port_rules(state), dict(proxy.accepted), 1.0, "userspace")
        assert [(s["port"], s["connections"]) for s in body["services"]] == [(port, 7)]
        proxy.update(state)  # an update keeps the listener and its count
        assert await whoami(ip, port) == "a"
        assert proxy.accepted["default/svc/tcp/" + str(port)] == 8
        await proxy.stop()
        backends.close()

    run(main)


def test_udp_flows_are_counted_not_datagrams() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        endpoint, ep = await udp_endpoint(b"u")
        ip = "127.0.2.11"
        port = free_port(ip, socket.SOCK_DGRAM)
        proxy = UserspaceProxy()
        proxy.update(snapshot(ip, port, [ep], protocol="UDP"))
        await proxy.wait_started()
        for _ in range(3):  # three clients (flows) of two datagrams each
            transport, client = await loop.create_datagram_endpoint(
                _Udp, local_addr=("127.0.0.1", 0))
            for i in range(2):
                transport.sendto(b"x%d" % i, (ip, port))
                await asyncio.wait_for(client.got.get(), 5)
            transport.close()
        assert proxy.accepted["default/svc/udp/" + str(port)] == 3
        await proxy.stop()
        endpoint.close()

    run(main)
