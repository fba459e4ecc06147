"""runtime/pki.py: the environment's CA and serving certificate, checked with real TLS handshakes
on 127.0.0.1 between the server and client contexts it makes."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localsvc.runtime.pki import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    SERVING_CERT_FILE,
    SERVING_KEY_FILE,
    Pki,
    Sans,
    ensure_pki,
    missing_sans,
    ssl_client_context,
)

SANS = Sans(env="dev", node_ip="172.30.0.2", cluster_ip="10.96.0.1")
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _handshake(pki: Pki, client: ssl.SSLContext, server_hostname: str) -> bytes:
    """One TLS connection on 127.0.0.1: the server answers b"pong" to b"ping"; the client's
    verification error (if any) propagates."""
    server_context = pki.ssl_server_context()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with server_context.wrap_socket(conn, server_side=True) as tls:
                if tls.recv(4) == b"ping":
                    tls.sendall(b"pong")
        except (OSError, ssl.SSLError):
            pass  # the client's rejection shows on the client's side

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname=server_hostname) as tls:
                tls.sendall(b"ping")
                return tls.recv(4)
    finally:
        thread.join(timeout=10)
        listener.close()


def test_first_call_writes_ca_and_serving_pair_with_private_key_modes(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "pki"
    pki = ensure_pki(directory, SANS)
    for name in (CA_CERT_FILE, CA_KEY_FILE, SERVING_CERT_FILE, SERVING_KEY_FILE):
        assert (directory / name).is_file(), name
    assert stat.S_IMODE((directory / CA_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / SERVING_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert pki.ca_cert_path.read_bytes() == pki.ca_pem
    assert pki.serving_cert_path.read_bytes() == pki.serving_cert_pem
    assert pki.serving_key_path.read_bytes() == pki.serving_key_pem
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]  # no temp files


def test_ca_is_a_ten_year_ca_named_after_the_environment(tmp_path: Path) -> None:
    ca = _cert(ensure_pki(tmp_path, SANS, now=NOW).ca_pem)
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localsvc-dev-ca"
    assert ca.subject == ca.issuer
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert (ca.not_valid_after_utc - NOW).days == 3650


def test_serving_certificate_names_every_way_to_reach_the_api(tmp_path: Path) -> None:
    serving = _cert(ensure_pki(tmp_path, SANS, now=NOW).serving_cert_pem)
    alt = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(alt.get_values_for_type(x509.DNSName)) == {
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local", "localsvc-dev-node"}
    assert set(alt.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("172.30.0.2"),
        ipaddress.ip_address("10.96.0.1")}
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (serving.not_valid_after_utc - NOW).days == 365


def test_cluster_domain_is_in_the_service_name(tmp_path: Path) -> None:
    sans = Sans(env="dev", node_ip="172.30.0.2", cluster_ip="10.96.0.1",
                cluster_domain="corp.example")
    serving = _cert(ensure_pki(tmp_path, sans).serving_cert_pem)
    assert missing_sans(serving, sans) == []
    assert "kubernetes.default.svc.corp.example" in sans.dns_names()


@pytest.mark.parametrize("server_hostname", [
    "127.0.0.1", "localhost", "kubernetes.default.svc.cluster.local", "10.96.0.1"])
def test_tls_handshake_verifies_against_the_pinned_ca(tmp_path: Path,
                                                      server_hostname: str) -> None:
    pki = ensure_pki(tmp_path, SANS)
    assert _handshake(pki, ssl_client_context(pki.ca_pem), server_hostname) == b"pong"


def test_client_rejects_a_name_the_certificate_does_not_carry(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, SANS)
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        _handshake(pki, ssl_client_context(pki.ca_pem), "10.96.0.99")


def test_client_rejects_another_environments_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "a", SANS)
    other = ensure_pki(tmp_path / "b", SANS)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(pki, ssl_client_context(other.ca_pem), "127.0.0.1")


def test_client_context_pins_and_checks_names_over_tls_1_2_or_later(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, SANS)
    context = ssl_client_context(pki.ca_pem)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName",
                                                                   "localsvc-dev-ca"),),)]


def test_second_call_reuses_every_file(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, SANS)
    inodes = {p.name: p.stat().st_ino for p in tmp_path.iterdir()}
    second = ensure_pki(tmp_path, SANS)
    assert second == first
    assert {p.name: p.stat().st_ino for p in tmp_path.iterdir()} == inodes


def test_a_missing_san_reissues_the_serving_certificate_with_the_same_ca(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, SANS)
    moved = Sans(env="dev", node_ip="172.30.0.9", cluster_ip="10.96.0.1")
    second = ensure_pki(tmp_path, moved)
    assert second.ca_pem == first.ca_pem
    assert second.serving_cert_pem != first.serving_cert_pem
    assert second.serving_key_pem != first.serving_key_pem
    assert missing_sans(_cert(first.serving_cert_pem), moved) == ["172.30.0.9"]
    assert missing_sans(_cert(second.serving_cert_pem), moved) == []
    assert _handshake(second, ssl_client_context(first.ca_pem), "172.30.0.9") == b"pong"


def test_serving_certificate_is_reissued_30_days_before_it_expires(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, SANS, now=NOW)
    kept = ensure_pki(tmp_path, SANS, now=NOW + datetime.timedelta(days=334))
    assert kept == first
    renewed = ensure_pki(tmp_path, SANS, now=NOW + datetime.timedelta(days=336))
    assert renewed.ca_pem == first.ca_pem
    assert renewed.serving_cert_pem != first.serving_cert_pem
    assert _cert(renewed.serving_cert_pem).not_valid_after_utc > _cert(
        first.serving_cert_pem).not_valid_after_utc


def test_a_damaged_serving_key_is_replaced_and_the_ca_kept(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, SANS)
    (tmp_path / SERVING_KEY_FILE).write_bytes(b"not a key")
    second = ensure_pki(tmp_path, SANS)
    assert second.ca_pem == first.ca_pem
    assert second.serving_cert_pem != first.serving_cert_pem
    assert _handshake(second, ssl_client_context(first.ca_pem), "127.0.0.1") == b"pong"


def test_a_serving_key_that_does_not_match_its_certificate_is_replaced(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path / "a", SANS)
    other = ensure_pki(tmp_path / "b", SANS)
    (tmp_path / "a" / SERVING_KEY_FILE).write_bytes(other.serving_key_pem)
    second = ensure_pki(tmp_path / "a", SANS)
    assert second.ca_pem == first.ca_pem
    assert second.serving_key_pem != other.serving_key_pem
    assert _handshake(second, ssl_client_context(first.ca_pem), "127.0.0.1") == b"pong"


def test_a_serving_certificate_of_another_ca_is_replaced(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path / "a", SANS)
    other = ensure_pki(tmp_path / "b", SANS)
    for name in (SERVING_CERT_FILE, SERVING_KEY_FILE):
        (tmp_path / "a" / name).write_bytes((tmp_path / "b" / name).read_bytes())
    second = ensure_pki(tmp_path / "a", SANS)
    assert second.serving_cert_pem not in (first.serving_cert_pem, other.serving_cert_pem)
    assert _handshake(second, ssl_client_context(first.ca_pem), "127.0.0.1") == b"pong"


def test_a_lost_ca_key_makes_a_new_ca_and_serving_certificate(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, SANS)
    (tmp_path / CA_KEY_FILE).unlink()
    second = ensure_pki(tmp_path, SANS)
    assert second.ca_pem != first.ca_pem
    assert _handshake(second, ssl_client_context(second.ca_pem), "127.0.0.1") == b"pong"


def test_a_malformed_address_is_named() -> None:
    with pytest.raises(ValueError, match="Sans.node_ip: 'node' is not an IP address"):
        Sans(env="dev", node_ip="node", cluster_ip="10.96.0.1").ip_addresses()


def test_the_node_ip_may_equal_the_cluster_ip_without_a_duplicate_san() -> None:
    sans = Sans(env="dev", node_ip="10.96.0.1", cluster_ip="10.96.0.1")
    assert [str(ip) for ip in sans.ip_addresses()] == ["127.0.0.1", "10.96.0.1"]


def test_a_naive_now_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ensure_pki(tmp_path, SANS, now=datetime.datetime(2026, 12, 1))


def test_the_node_makes_its_certificates_in_a_child_process(tmp_path: Path) -> None:
    """`python -m localsvc.runtime.pki ...` (what the node runs at start, keeping cryptography
    out of its own process) leaves files the standard library's ssl serves with."""
    import subprocess
    import sys

    from localsvc.runtime.tls import ssl_server_context

    done = subprocess.run([sys.executable, "-m", "localsvc.runtime.pki", str(tmp_path / "pki"),
                           "e1", "172.30.0.2", "10.96.0.1", "cluster.local"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ssl_server_context(tmp_path / "pki").get_ca_certs() == []  # loads, no CA bundle
    wrong = subprocess.run([sys.executable, "-m", "localsvc.runtime.pki", "only-one"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "usage:" in wrong.stderr
