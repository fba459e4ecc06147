"""The body of Docker's GET /containers/ID/logs, decoded from large reads. Pure: bytes in,
log payloads out.

For a container without a TTY each message is framed as stdcopy does: 8 bytes of header
(stream 1 stdout, 2 stderr; three zero bytes; the big-endian payload length) then the payload,
which model/kubeapi/channels.DockerDemuxer decodes here as for exec and attach; a TTY
container's log is raw bytes. docker-py reads that with two small reads per message, which caps
a busy log at a few tens of thousands of lines per second; reading 64 KiB at a time (aiohttp
takes off HTTP's chunks) and decoding here does not.
"""
from __future__ import annotations

from localsvc.model.kubeapi.channels import DockerDemuxer


class DockerLogDecoder:
    """Feed the body's bytes as they come (aiohttp has taken off HTTP's chunks); get each
    message's payload (stdout and stderr interleaved as the container wrote them)."""

    def __init__(self, multiplexed: bool):
        self.multiplexed = multiplexed
        self.demuxer = DockerDemuxer()

    def feed(self, data: bytes) -> list[bytes]:
        if not self.multiplexed:
            return [data] if data else []
        return [payload for _, payload in self.demuxer.frames(data)]


__all__ = ["DockerLogDecoder"]
