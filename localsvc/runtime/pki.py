"""The environment's PKI: its CA and the API server's serving certificate.

The node creates both on its first start, in its state directory (a Docker volume that outlives
node containers), so the private keys never leave the node and a replaced node keeps the same CA.
The host only ever reads ca.crt (public) and pins it with ssl_client_context.

Each call of ensure_pki keeps what is still good and replaces only what is not: a CA that is
missing, unreadable, not a CA or near expiry is made anew (and with it the serving certificate);
a serving certificate that is missing, not signed by the CA, lacks a wanted SAN, does not match
its key or expires within RENEW_BEFORE is issued again by the same CA.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localsvc.model.nodeconfig import CA_CERT_FILE, SERVING_CERT_FILE, SERVING_KEY_FILE
from localsvc.runtime import tls
from localsvc.runtime.tls import ssl_client_context

CA_KEY_FILE = "ca.key"

CA_VALIDITY = datetime.timedelta(days=3650)
SERVING_VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
# Certificates start a little in the past: the host's and a remote engine's clocks may differ.
BACKDATE = datetime.timedelta(minutes=5)

KEY_MODE = 0o600
CERT_MODE = 0o644
DIRECTORY_MODE = 0o700

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Sans:
    """What the serving certificate must name: the environment, the node's IP on the bridge, the
    `kubernetes` Service's ClusterIP and the cluster domain."""

    env: str
    node_ip: str
    cluster_ip: str
    cluster_domain: str = "cluster.local"

    def dns_names(self) -> tuple[str, ...]:
        return (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{self.cluster_domain}",
            f"localsvc-{self.env}-node",
        )

    def ip_addresses(self) -> tuple[IPAddress, ...]:
        """127.0.0.1 (the host reaches the API at a published loopback port), then the node IP and
        the ClusterIP; duplicates dropped. A malformed address raises ValueError naming it."""
        wanted: list[IPAddress] = []
        for field, text in (("loopback", "127.0.0.1"), ("node_ip", self.node_ip),
                            ("cluster_ip", self.cluster_ip)):
            try:
                address = ipaddress.ip_address(text)
            except ValueError as err:
                raise ValueError(f"Sans.{field}: {text!r} is not an IP address") from err
            if address not in wanted:
                wanted.append(address)
        return tuple(wanted)


@dataclass(frozen=True)
class Pki:
    """The files ensure_pki left in `directory`, and their contents."""

    directory: Path
    ca_pem: bytes
    serving_cert_pem: bytes
    serving_key_pem: bytes

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def serving_cert_path(self) -> Path:
        return self.directory / SERVING_CERT_FILE

    @property
    def serving_key_path(self) -> Path:
        return self.directory / SERVING_KEY_FILE

    def ssl_server_context(self) -> ssl.SSLContext:
        """The API server's TLS context (runtime/tls.py)."""
        return tls.ssl_server_context(self.directory)


def ensure_pki(directory: Path, sans: Sans,
               now: datetime.datetime | None = None) -> Pki:
    """Load or create the CA and the serving certificate in `directory` (created with mode 0700).
    Keys are written with mode 0600, certificates 0644, each file atomically. `now` (tests):
    an aware datetime."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("ensure_pki: now must be timezone-aware (e.g. in UTC)")
    directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    ca = _load_pair(directory / CA_CERT_FILE, directory / CA_KEY_FILE)
    if ca is None or ca_problem(ca[0], ca[1], moment) is not None:
        ca = _new_ca(sans.env, moment)
        _write_pair(directory / CA_CERT_FILE, directory / CA_KEY_FILE, *ca)
        serving = None
    else:
        serving = _load_pair(directory / SERVING_CERT_FILE, directory / SERVING_KEY_FILE)
    ca_cert, ca_key = ca
    if serving is None or serving_problem(serving[0], serving[1], ca_cert, sans,
                                          moment) is not None:
        serving = _new_serving(ca_cert, ca_key, sans, moment)
        _write_pair(directory / SERVING_CERT_FILE, directory / SERVING_KEY_FILE, *serving)
    return Pki(
        directory=directory,
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        serving_cert_pem=serving[0].public_bytes(serialization.Encoding.PEM),
        serving_key_pem=_key_pem(serving[1]),
    )


# --- the rules: why a certificate must be replaced (None: keep it) ---------------------------

def ca_problem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
               now: datetime.datetime) -> str | None:
    if not _same_public_key(cert, key):
        return "the CA key does not match the CA certificate"
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return "the CA certificate has no basicConstraints"
    if not constraints.ca:
        return "the CA certificate is not a CA"
    return _validity_problem(cert, now)


def serving_problem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
                    ca_cert: x509.Certificate, sans: Sans,
                    now: datetime.datetime) -> str | None:
    if not _same_public_key(cert, key):
        return "the serving key does not match the serving certificate"
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "the serving certificate is not signed by the CA"
    missing = missing_sans(cert, sans)
    if missing:
        return f"the serving certificate lacks SANs {', '.join(missing)}"
    return _validity_problem(cert, now)


def missing_sans(cert: x509.Certificate, sans: Sans) -> list[str]:
    """The wanted SANs (as text) that `cert` does not carry."""
    try:
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [*sans.dns_names(), *(str(ip) for ip in sans.ip_addresses())]
    names = set(present.get_values_for_type(x509.DNSName))
    ips = set(present.get_values_for_type(x509.IPAddress))
    return ([name for name in sans.dns_names() if name not in names]
            + [str(ip) for ip in sans.ip_addresses() if ip not in ips])


def _validity_problem(cert: x509.Certificate, now: datetime.datetime) -> str | None:
    if now < cert.not_valid_before_utc:
        return "the certificate is not valid yet"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return "the certificate expires within 30 days"
    return None


def _same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


# --- issuing ------------------------------------------------------------------------------------

def _new_ca(env: str, now: datetime.datetime
            ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"localsvc-{env}-ca")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_serving(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, sans: Sans,
                 now: datetime.datetime
                 ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in sans.dns_names()]
    alt_names += [x509.IPAddress(ip) for ip in sans.ip_addresses()]
    ca_key_id = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"localsvc-{sans.env}-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + SERVING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_usage(digital_signature: bool = False, key_cert_sign: bool = False,
               crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
        crl_sign=crl_sign, encipher_only=False, decipher_only=False)


# --- files --------------------------------------------------------------------------------------

def _load_pair(cert_path: Path, key_path: Path
               ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and its EC key, or None when either is missing or unreadable (then the
    caller issues a new pair: there is nothing else to do with a damaged file)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return cert, key


def _write_pair(cert_path: Path, key_path: Path, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> None:
    # The key first: a crash between the two leaves a mismatched pair, which the next start
    # detects and replaces, never a certificate whose key is lost.
    write_atomically(key_path, _key_pem(key), KEY_MODE)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), CERT_MODE)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` through a temporary file in the same directory, created with
    `mode` before any byte is written (a key is never readable by others, even briefly)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    directory_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def main(argv: list[str]) -> int:
    """`python -m localsvc.runtime.pki DIRECTORY ENV NODE_IP CLUSTER_IP CLUSTER_DOMAIN`: the
    node runs this as a child process at start, so that `cryptography` never stays resident in
    the node (it loads the files with runtime/tls.py)."""
    if len(argv) != 5:
        print("usage: python -m localsvc.runtime.pki DIRECTORY ENV NODE_IP CLUSTER_IP "
              "CLUSTER_DOMAIN", file=sys.stderr)
        return 2
    directory, env, node_ip, cluster_ip, domain = argv
    ensure_pki(Path(directory), Sans(env, node_ip, cluster_ip, domain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["CA_CERT_FILE", "Pki", "Sans", "ensure_pki", "ssl_client_context"]
