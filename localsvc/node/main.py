"""`localsvc node`: the process inside the node container (controller + API)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from localsvc.dns.server import DnsServer
from localsvc.model.allocation import dns_ip
from localsvc.model.network import plan_for
from localsvc.net.dataplane import make_dataplane
from localsvc.model.nodeconfig import CA_CERT_FILE, IN_CLUSTER_API_PORT, PKI_DIR, NodeConfig
from localsvc.node.context import NodeContext
from localsvc.node.controller import Controller
from localsvc.node.network import NetworkSync
from localsvc.node.reaper import Reaper
from localsvc.node.server import make_app
from localsvc.node.store import Store
from localsvc.tasks import spawn
from localsvc.runtime.engine import connect
from localsvc.runtime.tls import ssl_server_context


async def serve(config: NodeConfig, pki: subprocess.Popen[bytes]) -> None:
    """Run the node until SIGTERM. `pki`: the certificates' child process, when the caller
    started it already (node/boot.py), else started here."""
    loop = asyncio.get_running_loop()
    # Docker calls run in threads; pods start in parallel, so allow more than the default.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=24, thread_name_prefix="docker"))
    log = logging.getLogger("localsvc.node")
    # The environment's CA and serving certificate, made once and kept in the state volume
    # (a replaced node keeps them): the host pins the CA, so the token only travels over TLS.
    # A child process checks and makes them (~0.15 s) while the network is set up: `cryptography`
    # never stays resident in the node. The pods are adopted only once it ended: every pod plan
    # carries the CA as it is then (a CA near expiry is replaced by the child).
    pki_dir = config.state_dir / PKI_DIR
    cluster_range = str(plan_for(config.subnet).cluster_ip_range)
    docker_client = connect()
    # `docker info` (~20 ms, for the Docker Desktop check below) asked while the dataplane is
    # set up: both precede serving.
    engine_info = asyncio.ensure_future(asyncio.to_thread(docker_client.info))
    dataplane = await make_dataplane(config.proxy_mode, "eth0", cluster_range)
    log.info("service proxy: %s", type(dataplane).__name__)
    # Port 53 on the node's IP and on kube-dns's ClusterIP, each bound on its own so that
    # replies leave from the address the pod asked.
    dns = DnsServer([config.node_ip, dns_ip(cluster_range)], 53)
    if "Docker Desktop" not in str((await engine_info).get("OperatingSystem", "")):
        # Linux engines: host.docker.internal is the host's address on the bridge (Docker
        # Desktop's resolver knows the name itself).
        dns.static_hosts["host.docker.internal"] = plan_for(config.subnet).gateway
    await dns.start()
    network = NetworkSync(dataplane, dns)
    if await asyncio.to_thread(pki.wait) != 0:
        raise SystemExit(f"making the environment's certificates in {pki_dir} failed")
    ctx = NodeContext(config=config, docker=docker_client,
                      ca_crt=(pki_dir / CA_CERT_FILE).read_bytes())
    controller = Controller(ctx, Store(config.state_dir), network)
    app = make_app(controller, config.token, config.env)
    reaper = Reaper(ctx.docker, config.env, config.image, config.state_dir)
    reaper.add_routes(app)
    spawn(reaper.run(), name="reaper")
    await controller.adopt()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = ssl_server_context(pki_dir)
    # The published port (the host's 127.0.0.1), and 443 for clients inside the environment.
    for port in (config.api_port, IN_CLUSTER_API_PORT):
        await web.TCPSite(runner, "0.0.0.0", port, ssl_context=tls).start()
    reaper.api_serving()
    log.info("node of environment %s serving HTTPS on :%d and :%d", config.env,
             config.api_port, IN_CLUSTER_API_PORT)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = spawn(controller.run(), name="controller")
    await stop.wait()
    # Leave pods running: the next node process adopts them.
    task.cancel()
    await runner.cleanup()
    await dns.stop()
    logging.getLogger("localsvc.node").info("node stopping; pods keep running")


def run_node(config: NodeConfig, pki: subprocess.Popen[bytes]) -> int:
    """Serve the node (node/boot.py started the certificates' child `pki` already)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # faster event loop for the DNS server and the userspace proxy

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(config, pki))
    # Do not wait for Docker calls still running in threads (a pod being stopped with a long
    # grace period): the next node process finishes that work (adoption, garbage collection).
    logging.shutdown()
    os._exit(0)
