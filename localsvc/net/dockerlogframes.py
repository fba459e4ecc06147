"""The body of Docker's GET /containers/ID/logs, decoded from large reads. Pure: bytes in,
log payloads out.

Docker answers with HTTP chunked transfer, one chunk per log message, and (for a container
without a TTY) each message framed as stdcopy does: 8 bytes of header (stream 1 stdout,
2 stderr; three zero bytes; the big-endian payload length) then the payload, which
model/kubeapi/channels.DockerDemuxer decodes here as for exec and attach. docker-py reads
that with two small reads per message, which caps a busy log at a few tens of thousands of
lines per second; reading 64 KiB at a time and decoding here does not.
"""

from __future__ import annotations

from localsvc.model.kubeapi.channels import DockerDemuxer


class BadLogStream(ValueError):
    """The bytes are not a chunked Docker log body."""


class DockerLogDecoder:
    """Feed the body's bytes as they come; get each message's payload (stdout and stderr
    interleaved as the container wrote them). `done` once the last chunk has been read."""

    def __init__(self, chunked: bool, multiplexed: bool):
        self.chunked = chunked
        self.multiplexed = multiplexed
        self.raw = bytearray()  # received, not yet de-chunked
        self.chunk_left = 0  # bytes of the current chunk still to come
        self.chunk_crlf = False  # the CRLF that ends a chunk's data is still to come
        self.body = bytearray()  # de-chunked, not yet de-framed
        self.demuxer = DockerDemuxer()
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        if self.chunked:
            self.raw += data
            self._dechunk()
        else:
            self.body += data
        if not self.multiplexed:
            out = [bytes(self.body)] if self.body else []
            self.body.clear()
            return out
        return self._deframe()

    def _dechunk(self) -> None:
        raw, pos = self.raw, 0
        while not self.done:
            if self.chunk_left:
                take = min(self.chunk_left, len(raw) - pos)
                if take <= 0:
                    break
                self.body += raw[pos:pos + take]
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                self.chunk_crlf = True
            if self.chunk_crlf:
                if len(raw) - pos < 2:
                    break
                if raw[pos:pos + 2] != b"\r\n":
                    raise BadLogStream("a chunk's data does not end with CRLF")
                pos += 2
                self.chunk_crlf = False
            end = raw.find(b"\r\n", pos)
            if end < 0:
                if len(raw) - pos > 1024:
                    raise BadLogStream("a chunk size line longer than 1024 bytes")
                break
            size_text = bytes(raw[pos:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadLogStream(f"a chunk size that is not hexadecimal: {size_text!r}") \
                    from None
            pos = end + 2
            if size == 0:
                self.done = True  # trailers, if any, carry nothing for us
                break
            self.chunk_left = size
        del raw[:pos]

    def _deframe(self) -> list[bytes]:
        frames = self.demuxer.frames(self.body)  # slices: copies of what they hold
        self.body.clear()
        return [payload for _, payload in frames]


__all__ = ["BadLogStream", "DockerLogDecoder"]
