"""A throwaway certificate authority for the TLS variant of the fake API server."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT_CERT_USER = "argoexec-client"


@dataclass
class Pki:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate."""

    dir: Path
    ca_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    server_cert: Path
    server_key: Path

    @classmethod
    def create(cls, directory: Path) -> Pki:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)

        def cert(cn: str, key: Any, issuer: Any, signer: Any, *, ca: bool = False, san: Any = None):
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(issuer)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            )
            if san is not None:
                builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            return builder.sign(signer, hashes.SHA256())

        def pem_key(key: Any) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-ca")])
        ca_cert = cert("fake-kube-ca", ca_key, ca_name, ca_key, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        ip = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        server_cert = cert("127.0.0.1", server_key, ca_name, ca_key, san=ip)
        client_key = ec.generate_private_key(ec.SECP256R1())
        client_cert = cert(CLIENT_CERT_USER, client_key, ca_name, ca_key)
        pem = serialization.Encoding.PEM
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "server.crt").write_bytes(server_cert.public_bytes(pem))
        (directory / "server.key").write_bytes(pem_key(server_key))
        return cls(
            dir=directory,
            ca_pem=ca_cert.public_bytes(pem),
            client_cert_pem=client_cert.public_bytes(pem),
            client_key_pem=pem_key(client_key),
            server_cert=directory / "server.crt",
            server_key=directory / "server.key",
        )
