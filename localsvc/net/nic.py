"""Offload settings of the node's own interface, through the ethtool ioctl (no ethtool binary in
the node image; NET_ADMIN is enough to change them).

Owns only GRO on the node's veth. Every ClusterIP packet crosses the node: client pod -> node
(DNAT, masquerade) -> server pod. Docker leaves GRO off on container veths; turned on, the veth
receives through NAPI and merges the segments of a flow before the node's forwarding path, so
conntrack, NAT and the second veth hop run once per merged packet rather than once per segment.
Measured with benchmarks/dataplane.py (README, "what each step gave").
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
ETHTOOL_GGRO = 0x0000002B
ETHTOOL_SGRO = 0x0000002C
_IFNAMSIZ = 16


def _ethtool_value(interface: str, command: int, value: int = 0) -> int:
    """One `struct ethtool_value` ioctl (get or set) on `interface`; the value after it.
    Raises OSError (no such interface, not permitted, not supported)."""
    data = ctypes.create_string_buffer(struct.pack("II", command, value))
    request = struct.pack(f"{_IFNAMSIZ}sP", interface.encode()[: _IFNAMSIZ - 1],
                          ctypes.addressof(data))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
    return int(struct.unpack("II", data.raw[:8])[1])


def gro_enabled(interface: str) -> bool:
    """Whether generic receive offload is on for `interface` (OSError when it cannot be read)."""
    return bool(_ethtool_value(interface, ETHTOOL_GGRO))


def enable_gro(interface: str) -> bool:
    """Best effort: turn GRO on. True when it is on afterwards; False when the kernel refused
    (no NET_ADMIN, an interface without it), which only costs speed."""
    try:
        if not gro_enabled(interface):
            _ethtool_value(interface, ETHTOOL_SGRO, 1)
        return gro_enabled(interface)
    except OSError:
        return False
