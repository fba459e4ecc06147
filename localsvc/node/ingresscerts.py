"""Certificates of the ingress controller: checking a `kubernetes.io/tls` Secret's pair before
HAProxy gets it (a bad pair would fail the whole reload), and the controller's default
self-signed certificate, served when no Secret covers the requested name (as ingress-nginx's
"Kubernetes Ingress Controller Fake Certificate")."""

from __future__ import annotations

import datetime
import functools
import logging
from pathlib import Path

# `cryptography` is imported where it is used: only an environment serving Ingresses needs it,
# and importing it costs the node's start ~0.1 s (2 vCPUs).

log = logging.getLogger("localsvc.ingress")
DEFAULT_CERT_FILE = "ingress-default.pem"  # in the node's state directory
DEFAULT_CERT_NAME = "localsvc ingress default certificate"
DEFAULT_CERT_DAYS = 3650


# Checking an RSA pair costs ~0.1 s (loading the key checks it) and the ingress plan asks again
# on every apply and readiness flip: a pair's answer never changes, so each is computed once.
# Bounded: a Secret rotated many times leaves at most this many old answers behind.
@functools.lru_cache(maxsize=256)
def pair_problem(crt: bytes, key: bytes) -> str | None:
    """Why tls.crt and tls.key cannot be served together; None when they can."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(crt)
    except ValueError as err:
        return f"tls.crt is not a PEM certificate ({err})"
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as err:
        return f"tls.key is not an unencrypted PEM private key ({err})"
    der = serialization.Encoding.DER
    info = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(der, info) != private.public_key().public_bytes(der, info):
        return "tls.key is not the private key of tls.crt"
    return None


def default_certificate_pem() -> bytes:
    """A new self-signed certificate and its key, as one PEM (HAProxy's format)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEFAULT_CERT_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=DEFAULT_CERT_DAYS))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


def stored_default_certificate(state_dir: Path) -> bytes:
    """The default certificate kept in the node's state directory (made once, so a restarted
    node configures the same one and does not reload HAProxy for nothing)."""
    path = state_dir / DEFAULT_CERT_FILE
    try:
        pem = path.read_bytes()
        if b"-----BEGIN CERTIFICATE-----" in pem and b"PRIVATE KEY-----" in pem:
            return pem
    except OSError:
        pass
    pem = default_certificate_pem()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        path.chmod(0o600)
    except OSError as err:  # served anyway; the next node process makes another
        log.warning("cannot keep the ingress default certificate in %s: %s", path, err)
    return pem
