"""The package's version, apart from localsvc/__init__.py so that lower layers (the node image's
label and hash) can read it without importing the package root, which names the host's API."""

__version__ = "0.1.0"
