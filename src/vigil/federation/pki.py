"""The federation's own certificate authority: the hub's server certificate and one client
certificate per site, for TLS between each leaf and the hub. No outside CA is involved: the
hub's operator makes the CA once (`vigil federation init`) and a certificate per site."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 20
CERT_YEARS = 5


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigil federation"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])  # fmt: skip


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _validity(builder: x509.CertificateBuilder, years: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(
        now + datetime.timedelta(days=365 * years)
    )


def make_ca() -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateBuilder().subject_name(_name("Vigil federation CA"))
    builder = _validity(builder.issuer_name(_name("Vigil federation CA")), CA_YEARS)
    builder = builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
    )
    cert = builder.sign(key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def issue(ca: Issued, common: str, hostnames: list[str] | None = None) -> Issued:
    """A certificate signed by `ca`: a server's when `hostnames` are given (its names and
    addresses), otherwise a site's client certificate named `common`."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateBuilder().subject_name(_name(common)).issuer_name(ca_cert.subject)
    builder = _validity(builder, CERT_YEARS).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number())
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if hostnames else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hostnames:
        names: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))
