"""The dashboard: a page in the browser served by a host process on 127.0.0.1 (`localsvc ui`, a
foreground `localsvc up`), which reads and writes the environment through its Kubernetes API.

access.py holds the rules (one-time login codes, sessions, the Host/Origin/CSRF checks, which
paths reach the node), server.py the aiohttp application, proxy.py the streaming proxy to the
node, wsstream.py the same streams over a WebSocket, runner.py the serving (a background thread
or the foreground), static/ the page itself.
"""
