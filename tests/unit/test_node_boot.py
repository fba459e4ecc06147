"""The node's first step (localsvc.node.boot): the certificates' child process, started before
the node's heavy imports. Its command line is run for real: it makes the environment's CA and
serving certificate in the state directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from localsvc.model.allocation import kubernetes_ip
from localsvc.model.network import plan_for
from localsvc.model.nodeconfig import CA_CERT_FILE, PKI_DIR, SERVING_CERT_FILE, NodeConfig
from localsvc.node.boot import pki_command


def config(state: Path) -> NodeConfig:
    return NodeConfig("boot-env", "localsvc-boot-env", "10.77.0.0/16", "10.77.0.2", "img", "tok",
                      state, "cluster.local")


def test_the_child_is_told_the_nodes_names_and_addresses(tmp_path: Path) -> None:
    command = pki_command(config(tmp_path))
    cluster_ip = kubernetes_ip(str(plan_for("10.77.0.0/16").cluster_ip_range))
    assert command[1:3] == ["-m", "localsvc.runtime.pki"]
    assert command[3:] == [str(tmp_path / PKI_DIR), "boot-env", "10.77.0.2", cluster_ip,
                           "cluster.local"]


def test_the_child_makes_the_certificates(tmp_path: Path) -> None:
    done = subprocess.run(pki_command(config(tmp_path)), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ca = (tmp_path / PKI_DIR / CA_CERT_FILE).read_bytes()
    assert ca.startswith(b"-----BEGIN CERTIFICATE-----")
    assert (tmp_path / PKI_DIR / SERVING_CERT_FILE).is_file()


def test_the_node_loads_without_cryptography() -> None:
    """Only the certificates' child and an environment serving Ingresses need it: importing it
    would cost every node's start ~0.1 s."""
    done = subprocess.run([sys.executable, "-c", "import sys, localsvc.node.main; "
                           "print('cryptography' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def ca_count() -> int:
    import ssl

    return int(ssl.create_default_context().cert_store_stats()["x509_ca"])


def test_the_heavy_imports_skip_the_ca_bundle_and_later_contexts_load_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from localsvc.node.boot import without_ca_bundle

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    usual = ca_count()
    with without_ca_bundle():
        assert ca_count() == 0
    assert "SSL_CERT_FILE" not in os.environ
    assert ca_count() == usual


def test_a_set_ca_file_is_restored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from localsvc.node.boot import without_ca_bundle

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "mine.pem"))
    with without_ca_bundle():
        assert os.environ["SSL_CERT_FILE"] == os.devnull
    assert os.environ["SSL_CERT_FILE"] == str(tmp_path / "mine.pem")
