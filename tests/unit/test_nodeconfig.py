"""localsvc.model.nodeconfig: the node's environment variables, written and read by one class."""

from __future__ import annotations

from pathlib import Path

from localsvc.model.nodeconfig import NodeConfig


def _config() -> NodeConfig:
    return NodeConfig(env="e1", network="localsvc-e1", subnet="10.231.0.0/16",
                      node_ip="10.231.0.2", image="localsvc/node:abc", token="t0k",
                      state_dir=Path("/var/lib/localsvc"), cluster_domain="example.local",
                      api_port=8081, proxy_mode="userspace", host_address="192.0.2.7",
                      node_port_range=(31000, 31999))


def test_what_the_host_writes_the_node_reads_back_unchanged() -> None:
    config = _config()
    env = config.to_env()
    assert all(name.startswith("LOCALSVC_") and isinstance(v, str) for name, v in env.items())
    assert env["LOCALSVC_NODE_PORT_RANGE"] == "31000-31999"
    assert NodeConfig.from_env(env) == config


def test_every_field_travels() -> None:
    """A field added to NodeConfig but not to to_env() would silently take its default."""
    env = _config().to_env()
    assert len(env) == len(NodeConfig.__dataclass_fields__)


def test_optional_variables_default_for_a_node_created_by_an_older_host() -> None:
    required = {k: v for k, v in _config().to_env().items()
                if k in ("LOCALSVC_ENV", "LOCALSVC_NETWORK", "LOCALSVC_SUBNET",
                         "LOCALSVC_NODE_IP", "LOCALSVC_IMAGE", "LOCALSVC_TOKEN")}
    config = NodeConfig.from_env(required)
    assert config.state_dir == Path("/var/lib/localsvc")
    assert config.cluster_domain == "cluster.local"
    assert (config.api_port, config.proxy_mode, config.host_address) == (8080, "auto", "127.0.0.1")
    assert config.node_port_range == (30000, 32767)
