"""localsvc: Kubernetes Services on one Docker engine, no cluster."""

__version__ = "0.1.0"
