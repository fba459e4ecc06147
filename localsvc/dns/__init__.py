"""Cluster DNS: the records of a Snapshot (`index`), the answers to queries (`answer`, pure), and
the UDP/TCP server that serves them and forwards everything else upstream (`server`)."""

from localsvc.dns.answer import answer, truncate_for_udp
from localsvc.dns.index import DnsIndex

__all__ = ["DnsIndex", "answer", "truncate_for_udp"]
