"""The TCP tunnel's wire protocol, shared by both ends: the node (`localsvc.node.tunnel`) and the
host's port forwarder (`localsvc.host.portforward`). It lives here, below both, so that the host
does not import the node's server code to learn three constants.

`GET /v1/tunnel?ip=A.B.C.D&port=N`, upgraded to a WebSocket:
- binary message: payload bytes, in either direction (the node sends chunks of at most CHUNK);
- text message EOF_MESSAGE from the client: the client's write side is finished (half-close);
  the node shuts the write side of its TCP connection and keeps relaying the answer;
- close frame from the node: the target ended its output (code 1000), or the connection could
  not be opened (code CLOSE_CONNECT_FAILED, message "connect to IP:PORT: REASON"); close frame
  from the client: drop the TCP connection.
"""

from __future__ import annotations

CHUNK = 64 * 1024
CLOSE_CONNECT_FAILED = 4502
EOF_MESSAGE = "eof"
