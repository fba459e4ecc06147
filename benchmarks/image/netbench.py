"""Network micro-benchmarks run inside pods (standard library only, shipped in a ConfigMap).

  netbench.py server                      sink on 5001, echo on 5002, accept-and-close on 5003,
                                          trivial DNS responder on UDP 5053 (the query back, QR set)
  netbench.py bulk HOST SECONDS           one connection, send as fast as possible -> Gbit/s
  netbench.py rtt HOST COUNT              1-byte ping-pong on one connection -> median/p99 us
  netbench.py conn HOST SECONDS CONC      new connections per second with CONC in flight
  netbench.py dns SERVER NAME SECONDS CONC [PORT]  UDP queries per second, CONC outstanding on
                                          one socket, blocking loop (client CPU share reported)
  netbench.py dnsasync SERVER NAME SECONDS CONC [PORT]  the same, one asyncio socket per query
                                          in flight (the client of issue 15's 8,777 queries/s)
Each client prints one JSON line.
"""

import asyncio
import json
import os
import random
import socket
import statistics
import struct
import sys
import threading
import time


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(1 << 20):
        pass
    writer.close()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
    writer.close()


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def _udp_responder(port: int) -> None:
    """The least a DNS server can do: each query back at once with QR set (no parsing, no
    answer), from a blocking loop: the floor for the `dns` client's figures."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    recvfrom, sendto = sock.recvfrom, sock.sendto
    while True:
        data, addr = recvfrom(4096)
        if len(data) >= 12:
            sendto(data[:2] + bytes([data[2] | 0x80]) + data[3:], addr)


async def server() -> None:
    threading.Thread(target=_udp_responder, args=(5053,), daemon=True).start()
    servers = [await asyncio.start_server(handler, "0.0.0.0", port, backlog=4096)
               for handler, port in ((_sink, 5001), (_echo, 5002), (_close, 5003))]
    print("netbench serving on 5001 (sink), 5002 (echo), 5003 (accept+close), udp 5053 (dns)",
          flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def bulk(host: str, seconds: float) -> dict:
    chunk = b"\0" * (1 << 20)
    s = socket.create_connection((host, 5001))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sent, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        s.sendall(chunk)
        sent += len(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    elapsed = time.perf_counter() - start
    s.close()
    return {"gbit_s": round(sent * 8 / elapsed / 1e9, 3)}


def rtt(host: str, count: int) -> dict:
    s = socket.create_connection((host, 5002))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for _ in range(count):
        t = time.perf_counter()
        s.send(b"x")
        s.recv(1)
        samples.append((time.perf_counter() - t) * 1e6)
    s.close()
    samples.sort()
    return {"median_us": round(statistics.median(samples), 1),
            "p99_us": round(samples[int(len(samples) * 0.99)], 1)}


async def _conn_worker(host: str, deadline: float, counter: list[int]) -> None:
    while time.perf_counter() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, 5003)
            await reader.read(1)  # the server closes at once
            writer.close()
            counter[0] += 1
        except OSError:
            counter[1] += 1


async def conn(host: str, seconds: float, concurrency: int) -> dict:
    counter = [0, 0]
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*(_conn_worker(host, deadline, counter) for _ in range(concurrency)))
    return {"conn_s": round(counter[0] / (time.perf_counter() - start)), "errors": counter[1]}


def _query(name: str, qid: int) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)


class _DnsClient(asyncio.DatagramProtocol):
    def __init__(self, name: str, deadline: float) -> None:
        self.name, self.deadline = name, deadline
        self.answered = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        self.transport.sendto(_query(self.name, random.randrange(65536)))  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.answered += 1
        if time.perf_counter() < self.deadline:
            self.send()
        elif not self.done.done():
            self.done.set_result(None)


async def dnsasync(server: str, name: str, seconds: float, concurrency: int,
                   port: int = 53) -> dict:
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    clients = []
    for _ in range(concurrency):
        _, proto = await loop.create_datagram_endpoint(
            lambda: _DnsClient(name, deadline), remote_addr=(server, port))
        clients.append(proto)
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    await asyncio.sleep(0.2)
    return {"qps": round(sum(c.answered for c in clients) / (time.perf_counter() - start))}


def dns(server: str, name: str, seconds: float, concurrency: int, port: int = 53) -> dict:
    """Queries/s from one connected UDP socket with `concurrency` queries in flight: each reply
    is answered with the next query (IDs random, cycled). A blocking loop costs the client a
    few microseconds per query, so the figure is the server's and the path's, not the client's
    (`client_cpu` near 1.0 would say otherwise). Lost queries (no reply for 0.5 s) are sent
    again and counted in `timeouts`. The first reply's RCODE and answer count are reported, so
    the caller can check what was measured."""
    queries = [_query(name, qid) for qid in random.sample(range(65536), 4096)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((server, port))
    sock.settimeout(0.5)
    recv, send, clock = sock.recv, sock.send, time.perf_counter
    send(queries[0])
    first = recv(65535)
    for i in range(concurrency):
        send(queries[i])
    sent, answered, timeouts = concurrency, 0, 0
    cpu, start = time.process_time(), clock()
    deadline = start + seconds
    while True:
        try:
            recv(65535)
        except socket.timeout:
            timeouts += 1
            for _ in range(concurrency):
                send(queries[sent & 4095])
                sent += 1
            continue
        answered += 1
        if answered & 63 == 0 and clock() >= deadline:
            break
        send(queries[sent & 4095])
        sent += 1
    elapsed = clock() - start
    sock.close()
    rcode, ancount = first[3] & 0x0F, struct.unpack(">H", first[6:8])[0]
    return {"qps": round(answered / elapsed), "client_cpu": round((time.process_time() - cpu) / elapsed, 2),
            "timeouts": timeouts, "rcode": rcode, "answers": ancount}


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "server":
        asyncio.run(server())
        return
    if mode == "bulk":
        result = bulk(args[0], float(args[1]))
    elif mode == "rtt":
        result = rtt(args[0], int(args[1]))
    elif mode == "conn":
        result = asyncio.run(conn(args[0], float(args[1]), int(args[2])))
    elif mode == "dnsasync":
        result = asyncio.run(dnsasync(args[0], args[1], float(args[2]), int(args[3]),
                                      int(args[4]) if len(args) > 4 else 53))
    else:
        result = dns(args[0], args[1], float(args[2]), int(args[3]),
                     int(args[4]) if len(args) > 4 else 53)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
