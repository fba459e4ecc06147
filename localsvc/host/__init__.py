"""The host side: everything that runs on the user's machine and talks to a node.

The Python API (`api.Environment`), the CLI (`cli`, `commands/`), port forwarding, the dev loop,
log streaming, the pytest plugin and the node client. It sits on top of every other layer
(model < runtime, dns, net < node < host; the contract is in pyproject.toml, checked by
`lint-imports`); nothing below imports from here.
"""
