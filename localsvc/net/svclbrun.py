"""`localsvc svclb`: the process of each svclb container, forwarding one Service's published ports
to its ClusterIP, in the kernel when it can, else in userspace.

The node asks for the kernel path (spec "mode": "kernel") when its own service proxy runs on
nftables, and then creates the container with NET_ADMIN and forwarding on (node/svclb.py). Here
the container checks that it really can: nft is installed, IPv4 forwarding is on and the ruleset
(net/svclbrules.py) loads. Then the kernel forwards and this process only waits to be stopped
(the rules live in the container's network namespace and go with it). Otherwise (no NET_ADMIN:
an engine or policy that refuses it; nft missing), it says why in its log and runs the Python
relay (net/forwarder.py), which needs no privilege.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from pathlib import Path

from localsvc.errors import LocalsvcError
from localsvc.net.forwarder import (
    ForwardRule,
    rules_from_json,
    run_forwarder,
    spec_object,
    until_stopped,
)
from localsvc.net.svclbrules import render_svclb_ruleset

log = logging.getLogger("localsvc.svclb")

MODE_KERNEL = "kernel"  # the spec's "mode" asking for nftables forwarding
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
NFT_TIMEOUT = 20.0


def program_kernel(rules: list[ForwardRule], host_alias: str | None,
                   ip_forward: Path = IP_FORWARD) -> str | None:
    """Load the forwarding ruleset into this network namespace; None when it is in place, else
    why the kernel cannot forward here (nothing was changed then)."""
    try:
        forwarding = ip_forward.read_text().strip()
    except OSError as err:
        return f"cannot read {ip_forward}: {err.strerror or err}"
    if forwarding != "1":
        return f"IPv4 forwarding is off ({ip_forward} is {forwarding!r})"
    if shutil.which("nft") is None:
        return "nft is not installed"
    try:
        result = subprocess.run(["nft", "-f", "-"], input=render_svclb_ruleset(rules, host_alias),
                                capture_output=True, text=True, timeout=NFT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"nft failed: {err}"
    if result.returncode != 0:
        return f"nft failed: {result.stderr.strip() or f'exit status {result.returncode}'}"
    return None


async def run_svclb(spec_json: str) -> None:
    """Forward until SIGTERM or SIGINT. SPEC is forwarder.rules_to_json's object."""
    spec = spec_object(spec_json)
    rules = rules_from_json(spec_json)
    mode = str(spec.get("mode") or "relay")
    if mode not in (MODE_KERNEL, "relay"):
        raise LocalsvcError(f'svclb spec: mode must be "kernel" or "relay" (got {mode!r})')
    if mode == MODE_KERNEL:
        host_alias = str(spec.get("host_alias") or "") or None
        why = await asyncio.to_thread(program_kernel, rules, host_alias)
        if why is None:
            for rule in rules:
                log.info("svclb: kernel forwarding (nftables) %s%s", rule,
                         f" from {', '.join(rule.source_ranges)}" if rule.source_ranges else "")
            await until_stopped()
            log.info("svclb: stopping")
            return
        log.warning("svclb: cannot forward in the kernel (%s): relaying in userspace", why)
    await run_forwarder(spec_json)
