"""Network micro-benchmarks run inside pods (standard library only, shipped in a ConfigMap).

  netbench.py server                      sink on 5001, echo on 5002, accept-and-close on 5003
  netbench.py bulk HOST SECONDS           one connection, send as fast as possible -> Gbit/s
  netbench.py rtt HOST COUNT              1-byte ping-pong on one connection -> median/p99 us
  netbench.py conn HOST SECONDS CONC      new connections per second with CONC in flight
  netbench.py dns SERVER NAME SECONDS CONC  UDP queries per second (CONC outstanding)
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


async def server() -> None:
    servers = [await asyncio.start_server(handler, "0.0.0.0", port, backlog=4096)
               for handler, port in ((_sink, 5001), (_echo, 5002), (_close, 5003))]
    print("netbench serving on 5001 (sink), 5002 (echo), 5003 (accept+close)", flush=True)
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


async def dns(server: str, name: str, seconds: float, concurrency: int) -> dict:
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    clients = []
    for _ in range(concurrency):
        _, proto = await loop.create_datagram_endpoint(
            lambda: _DnsClient(name, deadline), remote_addr=(server, 53))
        clients.append(proto)
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    await asyncio.sleep(0.2)
    return {"qps": round(sum(c.answered for c in clients) / (time.perf_counter() - start))}


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
    else:
        result = asyncio.run(dns(args[0], args[1], float(args[2]), int(args[3])))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
