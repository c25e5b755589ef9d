"""Certificates the simulator generates at start: a private CA, a server certificate, and the
connected app's JWT signing key pair.

Clients (simple-salesforce via requests, grpc) verify the server against the CA file, exactly as
they would trust a corporate CA in front of a real org; nothing is configured to skip
verification.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class ServerCertificates:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    @property
    def server_cert_pem(self) -> bytes:
        return self.server_cert.read_bytes()

    @property
    def server_key_pem(self) -> bytes:
        return self.server_key.read_bytes()

    @property
    def ca_cert_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


@dataclass(frozen=True)
class SigningKeyPair:
    """The connected app's certificate (registered in the org) and its private key (the
    integration's, used to sign JWT bearer assertions)."""

    private_key: Path
    certificate: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cpqsync org simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


def generate_server_certificates(directory: Path, hosts: list[str]) -> ServerCertificates:
    """A fresh CA and a server certificate for ``hosts`` (IP addresses or DNS names)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("cpqsync simulator CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    return ServerCertificates(
        ca_cert=_write(directory / "ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
        server_cert=_write(
            directory / "server.pem", server.public_bytes(serialization.Encoding.PEM)
        ),
        server_key=_write(directory / "server.key", _pem_key(server_key), private=True),
    )


def generate_signing_key_pair(directory: Path) -> SigningKeyPair:
    """An RSA key and self-signed certificate, as an admin uploads to a connected app."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name("cpqsync connected app")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    return SigningKeyPair(
        private_key=_write(directory / "jwt_private_key.pem", _pem_key(key), private=True),
        certificate=_write(
            directory / "jwt_certificate.pem", cert.public_bytes(serialization.Encoding.PEM)
        ),
    )
