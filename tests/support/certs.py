"""Certificates for TLS tests, made fresh in a directory: a CA, a server certificate for
127.0.0.1/localhost signed by it and one for another host, a client certificate signed by it,
and a client certificate from another CA the server does not trust."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path
    #: A valid key that belongs to no certificate here.
    other_key: Path
    #: A server certificate from the CA for another host (``elsewhere.example``) only.
    elsewhere_cert: Path
    elsewhere_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gearmand-py tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _issue(path: Path, subject: str, key: ec.EllipticCurvePrivateKey,
           issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, ca: bool = False,
           server: tuple[str, ...] = ()) -> x509.Name:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(name) for name in server if not name[0].isdigit()]
            + [x509.IPAddress(ipaddress.ip_address(name)) for name in server
               if name[0].isdigit()]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.subject


def make_certs(directory: Path) -> Certs:
    keys = {name: ec.generate_private_key(ec.SECP256R1())
            for name in ("ca", "server", "client", "stranger_ca", "stranger", "other",
                         "elsewhere")}
    for name in ("server", "client", "stranger", "other", "elsewhere"):
        _write_key(directory / f"{name}.key", keys[name])
    ca = _issue(directory / "ca.pem", "test CA", keys["ca"], _name("test CA"), keys["ca"],
                ca=True)
    _issue(directory / "server.pem", "localhost", keys["server"], ca, keys["ca"],
           server=("localhost", "127.0.0.1"))
    _issue(directory / "elsewhere.pem", "elsewhere.example", keys["elsewhere"], ca, keys["ca"],
           server=("elsewhere.example",))
    _issue(directory / "client.pem", "test worker", keys["client"], ca, keys["ca"])
    stranger_ca = _name("stranger CA")
    _issue(directory / "stranger.pem", "stranger", keys["stranger"], stranger_ca,
           keys["stranger_ca"])
    return Certs(ca=directory / "ca.pem", server_cert=directory / "server.pem",
                 server_key=directory / "server.key", client_cert=directory / "client.pem",
                 client_key=directory / "client.key", stranger_cert=directory / "stranger.pem",
                 stranger_key=directory / "stranger.key", other_key=directory / "other.key",
                 elsewhere_cert=directory / "elsewhere.pem",
                 elsewhere_key=directory / "elsewhere.key")
