"""Program the node's network namespace from a Snapshot: ClusterIP addresses plus a proxy.

Owns the I/O around the service proxy: the /32 ClusterIP addresses on the node's interface
(`ip`), the atomic nftables apply (`nft -f -`), the choice between kernel NAT and the userspace
proxy, and the best-effort sysctls they need. What the rules say is nftables.py's job; how the
userspace proxy relays is proxy.py's. Commands run as asyncio subprocesses, never blocking.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Protocol

from localsvc.errors import LocalsvcError
from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.net.nftables import checked_port_rules, cluster_ips
from localsvc.net.nftdiff import RulesetCompiler, partial_transaction
from localsvc.net.nftmodel import RulesetModel, carry_over, has_affinity, ruleset_text
from localsvc.net.proxy import UserspaceProxy

log = logging.getLogger("localsvc.dataplane")


# kube-proxy renders everything again once an hour, whatever happened in between.
FULL_SYNC_SECONDS = 3600.0
# An emptied chain is deleted in a later transaction, at least this long after (nftdiff.py).
STALE_CHAIN_SECONDS = 1.0
# A change of more service ports than this, and than a quarter of them, is rendered whole: one
# table in block form loads faster than thousands of commands (1,000 Services of 6 ports all
# getting their endpoint: 0.7 s full, 1.1 s partial, measured 2026-12-07).
PARTIAL_PORTS_MIN = 200


class DataplaneError(LocalsvcError):
    """The node could not program its addresses or its NAT rules."""


class Dataplane(Protocol):
    problems: list[Unserved]  # what the last apply skipped, and why

    async def apply(self, snapshot: Snapshot) -> None: ...

    async def close(self) -> None: ...


async def _run(*argv: str, stdin: str | None = None) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as err:
        raise DataplaneError(
            f"cannot run {argv[0]}: {err}; is it installed in the node image?"
        ) from err
    out, errors = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        raise DataplaneError(
            f"`{' '.join(argv)}` exited {proc.returncode}: "
            f"{errors.decode(errors='replace').strip()}"
        )
    return out.decode()


class Addresses:
    """The /32 ClusterIP addresses on one interface (never the interface's primary address)."""

    def __init__(self, interface: str, cluster_range: str) -> None:
        self.interface = interface
        self.cluster_range = ipaddress.IPv4Network(cluster_range)
        self.applied: frozenset[str] | None = None

    async def current(self) -> set[str]:
        out = await _run("ip", "-j", "-4", "addr", "show", "dev", self.interface)
        found: set[str] = set()
        for link in json.loads(out or "[]"):
            for addr in link.get("addr_info", []):
                ip, prefix = addr.get("local"), addr.get("prefixlen")
                if ip and prefix == 32 and ipaddress.IPv4Address(ip) in self.cluster_range:
                    found.add(ip)
        return found

    async def sync(self, wanted: set[str] | frozenset[str]) -> None:
        if self.applied == frozenset(wanted):
            return
        have = await self.current()
        commands = [f"address add {ip}/32 dev {self.interface}" for ip in sorted(wanted - have)]
        commands += [f"address del {ip}/32 dev {self.interface}" for ip in sorted(have - wanted)]
        if commands:
            await _run("ip", "-batch", "-", stdin="\n".join(commands) + "\n")
        self.applied = frozenset(wanted)

    async def clear(self) -> None:
        await self.sync(set())


def tune_sysctls(interface: str) -> dict[str, bool]:
    """Best effort: no ICMP redirects from the node (pods would then bypass it). Returns which
    settings took; inside a container /proc/sys may be read-only, and that is not an error."""
    results: dict[str, bool] = {}
    for name in (f"net.ipv4.conf.{interface}.send_redirects", "net.ipv4.conf.all.send_redirects"):
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write("0")
            results[name] = True
        except OSError:
            results[name] = False
    log.debug("sysctls: %s", results)
    return results


@dataclass
class SyncStats:
    """What the node reports of its nftables syncs (status `dataplane`)."""

    full: int = 0
    partial: int = 0
    last_kind: str = ""
    last_seconds: float = 0.0
    last_full_seconds: float = 0.0
    last_partial_seconds: float = 0.0

    def record(self, kind: str, seconds: float) -> None:
        self.last_kind, self.last_seconds = kind, seconds
        if kind == "full":
            self.full += 1
            self.last_full_seconds = seconds
        else:
            self.partial += 1
            self.last_partial_seconds = seconds

    def as_dict(self) -> dict[str, object]:
        return {"fullSyncs": self.full, "partialSyncs": self.partial, "lastKind": self.last_kind,
                "lastSeconds": round(self.last_seconds, 6),
                "lastFullSeconds": round(self.last_full_seconds, 6),
                "lastPartialSeconds": round(self.last_partial_seconds, 6)}


class NftDataplane:
    """Kernel NAT: ClusterIPs as /32s on the interface and one nftables table, rendered whole at
    the first sync, after an error and every FULL_SYNC_SECONDS, and changed in place (only what
    changed, nftdiff.py) in between."""

    def __init__(self, interface: str, cluster_range: str, table: str = "localsvc") -> None:
        self.addresses = Addresses(interface, cluster_range)
        self.table = table
        self.problems: list[Unserved] = []  # Services and addresses of the last apply skipped
        self.stats = SyncStats()
        self._compiler = RulesetCompiler()
        self._programmed: RulesetModel | None = None  # what the table holds; None: unknown
        self._stale: dict[str, float] = {}  # empty chains left by partial syncs -> flushed at
        self._full_at = 0.0  # time.monotonic() of the last full sync
        self._affinity_in_table = False  # ClientIP pins to read before replacing the table
        self._lock = asyncio.Lock()

    async def apply(self, snapshot: Snapshot) -> None:
        async with self._lock:
            started = time.monotonic()
            compiled = self._compiler.compile(snapshot)
            self.problems = compiled.problems
            kind = "partial" if await self._apply_partial(compiled.model, started) else "full"
            if kind == "full":
                await self._apply_full(compiled.model)
            await self.addresses.sync(set(compiled.addresses))
            self.stats.record(kind, time.monotonic() - started)

    async def _apply_partial(self, model: RulesetModel, now: float) -> bool:
        """Change the table in place; False when the full render must do it (first sync, the
        periodic one, a change partial syncs do not make, or the transaction failed)."""
        if self._programmed is None or now - self._full_at >= FULL_SYNC_SECONDS:
            return False
        due = [name for name, flushed in self._stale.items() if now - flushed >= STALE_CHAIN_SECONDS]
        tx = partial_transaction(self._programmed, model, self.table, due)
        if tx is None or tx.ports > max(PARTIAL_PORTS_MIN, len(model.ports) // 4):
            return False
        if tx.text:
            try:
                await _run("nft", "-f", "-", stdin=tx.text)
            except DataplaneError as err:
                log.warning("partial nftables sync failed, rendering the whole table: %s", err)
                return False
        for name in tx.added | tx.deleted:
            self._stale.pop(name, None)
        self._stale.update((name, now) for name in tx.flushed)
        self._programmed = model
        self._affinity_in_table = has_affinity(model)
        return True

    async def _apply_full(self, model: RulesetModel) -> None:
        pins = await self._affinity() if self._affinity_in_table else {}
        self._programmed = None  # unknown until the new table is in place
        text = ruleset_text(model, self.table)
        await _run("nft", "-f", "-", stdin=text + carry_over(model, self.table, pins))
        self._programmed = model
        self._affinity_in_table = has_affinity(model)
        self._stale.clear()  # the table was replaced whole
        self._full_at = time.monotonic()

    async def _affinity(self) -> dict[str, dict[str, int]]:
        """ClientIP pins in the current table: set name -> client IP -> seconds left."""
        try:
            out = await _run("nft", "-j", "list", "sets", "table", "ip", self.table)
            pins: dict[str, dict[str, int]] = {}
            for item in json.loads(out).get("nftables", []):
                nft_set = item.get("set") or {}
                if str(nft_set.get("name", "")).startswith("aff-"):
                    pins[nft_set["name"]] = {
                        e["elem"]["val"]: int(e["elem"].get("expires", 0))
                        for e in nft_set.get("elem", [])
                        if isinstance(e, dict) and "elem" in e
                    }
            return pins
        except (DataplaneError, ValueError, KeyError, TypeError) as err:
            log.warning("cannot read ClientIP affinity from nftables (pins reset): %s", err)
            return {}

    async def close(self) -> None:
        """Remove the rules and addresses (used by tests; the node leaves them on restart)."""
        async with self._lock:
            await _run(
                "nft",
                "-f",
                "-",
                stdin=f"table ip {self.table} {{}}\ndelete table ip {self.table}\n",
            )
            self._programmed = None
            self._affinity_in_table = False
            await self.addresses.clear()


class UserspaceDataplane:
    """Fallback: ClusterIPs as /32s on the interface, an asyncio listener per service port."""

    def __init__(
        self, interface: str, cluster_range: str, proxy: UserspaceProxy | None = None
    ) -> None:
        self.addresses = Addresses(interface, cluster_range)
        self.proxy = proxy or UserspaceProxy()
        self.problems: list[Unserved] = []

    @property
    def needs_retry(self) -> bool:
        """Whether a listener could not open: the next apply retries it even when the
        snapshot did not change what is programmed."""
        return bool(self.proxy.failures)

    async def apply(self, snapshot: Snapshot) -> None:
        rules, self.problems = checked_port_rules(snapshot)  # the proxy serves the rules kept
        await self.addresses.sync(cluster_ips(snapshot))  # listeners bind to these addresses
        self.proxy.update(snapshot, rules)

    async def close(self) -> None:
        await self.proxy.stop()
        await self.addresses.clear()


def available_kernel_nat() -> bool:
    """nft is installed and may program this network namespace (needs NET_ADMIN)."""
    if shutil.which("nft") is None:
        return False
    try:
        result = subprocess.run(
            ["nft", "list", "tables"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


async def make_dataplane(mode: str, interface: str, cluster_range: str) -> Dataplane:
    """mode "auto" (nftables when available, else userspace), "nftables" or "userspace"."""
    tune_sysctls(interface)
    if mode == "auto":
        kernel = await asyncio.to_thread(available_kernel_nat)
        mode = "nftables" if kernel else "userspace"
        log.info("service proxy: %s", mode)
    if mode == "nftables":
        return NftDataplane(interface, cluster_range)
    if mode == "userspace":
        return UserspaceDataplane(interface, cluster_range)
    raise LocalsvcError(f"unknown proxy mode {mode!r}: use auto, nftables or userspace")
