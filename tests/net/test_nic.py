"""The ethtool ioctl of net/nic.py against the real kernel (read-only on this machine's
interfaces: the node's own veth, where it turns GRO on, is covered by tests/integration)."""

from __future__ import annotations

import socket

import pytest

from localsvc.net.nic import enable_gro, gro_enabled


def test_reads_gro_of_a_real_interface() -> None:
    # A request the kernel does not understand fails with EINVAL/EFAULT/EOPNOTSUPP instead.
    name = socket.if_indextoname(1)  # the loopback interface, present everywhere on Linux
    assert isinstance(gro_enabled(name), bool)


def test_unknown_interface_is_an_error_when_read_and_false_when_enabled() -> None:
    with pytest.raises(OSError):
        gro_enabled("nosuchif0")
    assert enable_gro("nosuchif0") is False
