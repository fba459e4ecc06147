"""Replies to DNS queries from a DnsIndex: authoritative answers, NXDOMAIN vs NODATA, truncation.

Owns: the rules of answering one parsed query for the cluster zone (and the reverse names the
index knows), deciding what is not ours (None: forward upstream), FORMERR/NOTIMP for bad
requests, and fitting a reply into a UDP payload. Pure: no sockets, no asyncio, never raises on
bad input; the server (`server.py`) only moves bytes.
"""

from __future__ import annotations

from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSLabel, DNSRecord

from localsvc.dns.index import DnsIndex, key

UDP_PLAIN_LIMIT = 512  # without EDNS0 (RFC 1035)
EDNS_PAYLOAD = 1232  # what we advertise (DNS flag day 2020)
MAX_CNAME_CHAIN = 8
ANY_CLASS = 255


def qname_key(label: DNSLabel) -> str:
    """The index key of a query name; a label holding a dot can match no name in the index."""
    return ".".join(part.decode("latin-1").replace(".", "\\.") for part in label.label).lower()


def answer(request: DNSRecord, index: DnsIndex) -> DNSRecord | None:
    """The reply to `request`, or None when the name is not ours (forward it upstream)."""
    header = request.header
    if header.qr or len(request.questions) != 1:
        return _error(request, RCODE.FORMERR)
    if header.opcode != OPCODE.QUERY:
        return _error(request, RCODE.NOTIMP)
    if sum(1 for rr in request.ar if rr.rtype == QTYPE.OPT) > 1:
        return _error(request, RCODE.FORMERR)
    question = request.questions[0]
    name = qname_key(question.qname)
    if not index.owns(name):
        return None
    reply = _reply(request, RCODE.NOERROR, aa=True)
    if question.qclass not in (CLASS.IN, ANY_CLASS):
        reply.header.rcode = RCODE.NOTIMP
        return reply
    if question.qtype in (QTYPE.AXFR, QTYPE.IXFR):
        reply.header.rcode = RCODE.REFUSED
        return reply
    _resolve(reply, name, question.qtype, index)
    return reply


def _resolve(reply: DNSRecord, name: str, qtype: int, index: DnsIndex) -> None:
    """Fill the sections of `reply` for `name`, following in-zone CNAMEs (ExternalName)."""
    owner = name
    for _ in range(MAX_CNAME_CHAIN):
        records = index.lookup(owner)
        if records is None:
            if index.owns(owner):
                reply.header.rcode = RCODE.NXDOMAIN
                _negative(reply, owner, index)
            return  # else: a CNAME target outside the zone, for the resolver to chase
        if qtype == QTYPE.ANY:
            for rrs in records.values():
                reply.add_answer(*rrs)
            if not records:
                _negative(reply, owner, index)
            return
        found = records.get(qtype)
        if found:
            reply.add_answer(*found)
            if qtype == QTYPE.SRV:
                reply.add_ar(*index.additional.get(owner, ()))
            return
        alias = records.get(QTYPE.CNAME)
        if not alias:
            _negative(reply, owner, index)  # NODATA
            return
        reply.add_answer(*alias)
        owner = key(str(alias[0].rdata.label))
        if not index.owns(owner):
            return


def _negative(reply: DNSRecord, owner: str, index: DnsIndex) -> None:
    # The zone's SOA says how long to cache the negative answer. Reverse names are not in the
    # zone and we hold no SOA of theirs: send none rather than a wrong one.
    if index.in_zone(owner):
        reply.add_auth(index.soa)


def cname_to_chase(reply: DNSRecord, index: DnsIndex) -> str | None:
    """The out-of-zone target when `reply` ends in a CNAME the server may resolve upstream."""
    if not reply.rr or reply.header.rcode != RCODE.NOERROR:
        return None
    if reply.q.qtype in (QTYPE.CNAME, QTYPE.ANY):
        return None
    last = reply.rr[-1]
    if last.rtype != QTYPE.CNAME:
        return None
    target = key(str(last.rdata.label))
    return None if index.owns(target) else target


def udp_payload_limit(request: DNSRecord) -> int:
    """The largest UDP reply the client accepts: 512, or its EDNS0 payload size."""
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(UDP_PLAIN_LIMIT, min(int(rr.rclass), 65535))
    return UDP_PLAIN_LIMIT


def truncate_for_udp(reply: DNSRecord, limit: int) -> bytes:
    """`reply` packed to fit `limit` bytes: first without the additional records, else with
    TC=1 and only the question (and OPT) left, so that the client retries over TCP."""
    data = bytes(reply.pack())
    if len(data) <= limit:
        return data
    opt = [rr for rr in reply.ar if rr.rtype == QTYPE.OPT]
    if len(opt) < len(reply.ar):
        slim = DNSRecord(
            reply.header,
            questions=list(reply.questions),
            rr=list(reply.rr),
            auth=list(reply.auth),
            ar=opt,
        )
        data = bytes(slim.pack())
        if len(data) <= limit:
            return data
    header = DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap)
    header.tc = 1
    return bytes(DNSRecord(header, questions=list(reply.questions), ar=opt).pack())


def formerr_from_wire(data: bytes) -> bytes | None:
    """A FORMERR reply built from the raw header of a packet that did not parse; None when not
    even the header is there, or when the packet is itself a response (never answer those)."""
    if len(data) < 12 or data[2] & 0x80:
        return None
    # QR=1, opcode and RD copied; RA=1, RCODE=FORMERR; no sections.
    return data[:2] + bytes([0x80 | (data[2] & 0x79), 0x80 | RCODE.FORMERR]) + bytes(8)


def servfail(request: DNSRecord) -> bytes:
    """A SERVFAIL reply to `request`, packed."""
    return bytes(_reply(request, RCODE.SERVFAIL, aa=False).pack())


def _reply(request: DNSRecord, rcode: int, aa: bool) -> DNSRecord:
    # The header as one bitmap: QR, opcode and RD of the request, AA, RA, RCODE (dnslib's
    # per-flag keyword setters cost more than the rest of an answer).
    asked = request.header.bitmap
    bitmap = 0x8000 | (asked & 0x7800) | (int(aa) << 10) | (asked & 0x0100) | 0x0080 | rcode
    header = DNSHeader(id=request.header.id, bitmap=bitmap)
    reply = DNSRecord(header, questions=list(request.questions[:1]))
    if any(rr.rtype == QTYPE.OPT for rr in request.ar):
        reply.add_ar(EDNS0(udp_len=EDNS_PAYLOAD))
    return reply


def _error(request: DNSRecord, rcode: int) -> DNSRecord:
    return _reply(request, rcode, aa=False)


__all__ = [
    "answer",
    "cname_to_chase",
    "formerr_from_wire",
    "qname_key",
    "servfail",
    "truncate_for_udp",
    "udp_payload_limit",
]
