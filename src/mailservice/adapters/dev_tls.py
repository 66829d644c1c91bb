"""A self-signed certificate for local use (`mailservice serve --dev-tls`), kept under the data directory."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEV_TLS_DIR = "dev-tls"
VALID_DAYS = 365


def development_certificate(data_dir: Path, hostname: str) -> tuple[Path, Path]:
    """(certificate, key) files for `hostname`: the ones made earlier while still valid, else new ones."""
    directory = data_dir / DEV_TLS_DIR
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists() and _still_valid(cert_path, hostname):
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    return self_signed(directory, hostname, timedelta(days=VALID_DAYS))


def self_signed(directory: Path, hostname: str, valid_for: timedelta) -> tuple[Path, Path]:
    """Write cert.pem and key.pem (mode 0600) into `directory`; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_pem)
    return cert_path, key_path


def _still_valid(cert_path: Path, hostname: str) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    fresh = certificate.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)
    return fresh and bool(names) and names[0].value == hostname
