"""The DNS server's reply cache: packed replies per question, reused with only the ID patched.

Owns which reply bytes may be served again for a new message, and when they must go. A reply is
keyed by everything of the message that can change it but the ID and the case of the name:
the transport (UDP replies are cut to the client's payload size, TCP ones are not), the flags
and section counts (RD, CD, ...), the lowercase question name, and the bytes after it (QTYPE,
QCLASS, and the EDNS OPT record with its payload size and DO bit). A hit gets the message's own
ID and question name spliced in (same length), so the reply echoes the case the client asked
in (0x20 randomisation) and compression pointers into the question stay valid.

Invalidation follows the index, name by name: each reply records the index names it was made
from (the question, CNAME chain and SRV targets); a new index drops the replies of the names
whose records changed (`DnsIndex.changed_names`), and every negative reply (NXDOMAIN, NODATA:
their SOA carries the index version as its serial). Pure bytes and dictionaries: no sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from localsvc.dns.upstream import name_end

CACHE_MAX = 10_000  # replies kept (about 2 MB); the oldest goes first

# (tcp, flags and counts, lowercase question name, QTYPE + QCLASS + additional section)
Key = tuple[bool, bytes, bytes, bytes]


def cache_key(data: bytes, tcp: bool) -> tuple[Key, int] | None:
    """The cache key of a message and where its question name ends; None when the message has
    no single uncompressed question (such messages are never cached)."""
    end = name_end(data)
    if end is None:
        return None
    return (tcp, data[2:12], data[12:end].lower(), data[end:]), end


def lowercase_question(data: bytes) -> bytes:
    """`data` with its question name in lowercase. The server answers this form, so a reply is
    the same bytes whatever case the name was asked in (dnslib compresses names only onto the
    same case), and the cache can hand it to every case."""
    end = name_end(data)
    return data if end is None else data[:12] + data[12:end].lower() + data[end:]


def echo_question(reply: bytes, data: bytes) -> bytes:
    """`reply` with the question name written as in `data`, the message it answers (resolvers
    that randomise the case, 0x20, drop replies that do not echo it); unchanged when the
    question is not the same name at the same place."""
    end = name_end(data)
    if end is None or len(reply) < end or reply[12:end].lower() != data[12:end].lower():
        return reply
    return reply[:12] + data[12:end] + reply[end:]


@dataclass(slots=True)
class _Entry:
    head: bytes  # the reply's bytes 2-12: flags and counts
    tail: bytes  # the reply's bytes after the question name
    names: tuple[str, ...]  # index names the reply was made from; () for a negative reply
    exact: bytes  # the message it was made for, without its ID (the exact-bytes shortcut's key)


class ReplyCache:
    """Packed replies by `cache_key`, with an exact-bytes shortcut for repeated messages."""

    def __init__(self, max_entries: int = CACHE_MAX) -> None:
        self.max_entries = max_entries
        self._entries: dict[Key, _Entry] = {}
        # Message without its ID -> reply without its ID, per transport (False: UDP, True: TCP):
        # a resolver asking the same name in the same case hits here without parsing anything.
        self._exact: tuple[dict[bytes, bytes], dict[bytes, bytes]] = ({}, {})
        self._by_name: dict[str, set[Key]] = {}
        self._negative: set[Key] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, data: bytes, tcp: bool) -> bytes | None:
        """The cached reply to `data` with its ID and question name, or None."""
        hit = self._exact[tcp].get(data[2:])
        if hit is not None:
            return data[:2] + hit
        found = cache_key(data, tcp)
        if found is None:
            return None
        key, end = found
        entry = self._entries.get(key)
        if entry is None:
            return None
        return data[:2] + entry.head + data[12:end] + entry.tail

    def put(self, data: bytes, tcp: bool, reply: bytes, names: Iterable[str],
            negative: bool) -> bool:
        """Keep `reply`, the answer to `data`, until one of `names` changes (a negative reply:
        until the index changes at all). False when it cannot be kept: the message has no
        single plain question, or the reply does not start with the same question name."""
        found = cache_key(data, tcp)
        if found is None:
            return False
        key, end = found
        if len(reply) < end or reply[12:end].lower() != key[2]:
            return False
        self._drop(key)
        while len(self._entries) >= self.max_entries:
            self._drop(next(iter(self._entries)))  # the oldest entry
        kept = () if negative else tuple(sorted(set(names)))
        entry = _Entry(reply[2:12], reply[end:], kept, data[2:])
        self._entries[key] = entry
        self._exact[tcp][data[2:]] = reply[2:12] + data[12:end] + reply[end:]
        if negative:
            self._negative.add(key)
        for name in kept:
            self._by_name.setdefault(name, set()).add(key)
        return True

    def invalidate(self, names: Iterable[str]) -> int:
        """Drop the replies made from any of `names` and every negative reply; how many went."""
        before = len(self._entries)
        for name in names:
            for key in list(self._by_name.get(name, ())):
                self._drop(key)
        for key in list(self._negative):
            self._drop(key)
        return before - len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        for exact in self._exact:
            exact.clear()
        self._by_name.clear()
        self._negative.clear()

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._exact[key[0]].pop(entry.exact, None)
        self._negative.discard(key)
        for name in entry.names:
            keys = self._by_name.get(name)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_name[name]
