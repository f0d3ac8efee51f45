"""A private OpenLDAP server for the directory-password tests: Debian's slapd, run from a
slapd.conf in a temp folder on free ports of 127.0.0.1 (ldap:// with StartTLS, and ldaps://),
with an mdb database loaded by slapadd, TLS from a CA made here, and people in two shapes:
OpenLDAP's (uid=...,ou=people) and Active Directory's (CN=...,OU=Staff with sAMAccountName)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUFFIX = "dc=example,dc=com"
SERVICE_DN = f"cn=messenger,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-Pass-42"
PEOPLE_BASE = f"ou=people,{SUFFIX}"
STAFF_BASE = f"ou=staff,{SUFFIX}"

SCHEMA_DIR = Path("/etc/ldap/schema")
# Active Directory's attribute (its own OID), on an auxiliary class of this test's.
AD_SCHEMA = """\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.1 NAME 'testADAccount' SUP top AUXILIARY
  MAY sAMAccountName )
"""


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    password: str
    style: str = "openldap"  # or "ad"

    @property
    def dn(self) -> str:
        if self.style == "ad":
            return f"cn={self.user_id},{STAFF_BASE}"
        return f"uid={self.user_id},{PEOPLE_BASE}"


def ssha(password: str) -> str:
    """RFC 2307 {SSHA}, as slappasswd writes it."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - slapd's scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(folder: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(
    folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def people_ldif(people: list[Person]) -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
        f"dn: {PEOPLE_BASE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {STAFF_BASE}\nobjectClass: organizationalUnit\nou: staff",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
        f"dn: {SERVICE_DN}\nobjectClass: person\ncn: messenger\nsn: messenger\n"
        f"userPassword: {ssha(SERVICE_PASSWORD)}",
    ]
    for person in people:
        # Names that are not ASCII go base64 (LDIF's rule), as an export of a Korean company's
        # directory has them.
        lines = [
            f"dn: {person.dn}",
            "objectClass: inetOrgPerson",
            f"cn:: {_b64(person.name)}",
            f"sn:: {_b64(person.name[:1])}",
            f"displayName:: {_b64(person.name)}",
            f"userPassword: {ssha(person.password)}",
        ]
        if person.style == "ad":
            lines += ["objectClass: testADAccount", f"sAMAccountName: {person.user_id}"]
        else:
            lines.append(f"uid: {person.user_id}")
        entries.append("\n".join(lines))
    return "\n\n".join(entries) + "\n"


class Slapd:
    """One slapd process; stop() and start() again on the same data, pause() and resume() to
    make it hang (connections are accepted by the kernel, nothing answers)."""

    def __init__(self, folder: Path, people: list[Person]) -> None:
        for tool in ("slapd", "slapadd"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise RuntimeError(f"{tool} is missing: ./test installs Debian's slapd")
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.tls_uri = f"ldaps://127.0.0.1:{self.tls_port}"
        self.ca_file, ca_key, ca_cert = make_ca(folder, "test-ca")
        self.other_ca_file, _, _ = make_ca(folder, "other-ca")
        cert_file, key_file = make_server_cert(folder, ca_key, ca_cert)
        (folder / "db").mkdir()
        (folder / "ad.schema").write_text(AD_SCHEMA)
        self.conf = folder / "slapd.conf"
        self.conf.write_text(
            "\n".join(
                [
                    *(
                        f"include {SCHEMA_DIR / name}.schema"
                        for name in ("core", "cosine", "inetorgperson")
                    ),
                    f"include {folder / 'ad.schema'}",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    f"pidfile {folder / 'slapd.pid'}",
                    f"TLSCACertificateFile {self.ca_file}",
                    f"TLSCertificateFile {cert_file}",
                    f"TLSCertificateKeyFile {key_file}",
                    "database mdb",
                    f'suffix "{SUFFIX}"',
                    f'rootdn "cn=admin,{SUFFIX}"',
                    f"directory {folder / 'db'}",
                    "maxsize 10485760",
                    # As a company directory: people may only bind; the messenger's service
                    # account may search; nobody reads anything anonymously.
                    "access to attrs=userPassword by anonymous auth by * none",
                    f'access to * by dn.exact="{SERVICE_DN}" read by self read by * none',
                    "",
                ]
            )
        )
        ldif = folder / "people.ldif"
        ldif.write_text(people_ldif(people), encoding="utf-8")
        subprocess.run(
            ["slapadd", "-f", str(self.conf), "-l", str(ldif)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.folder / "slapd.log").open("ab")
        # -d keeps slapd in the foreground (our child, stopped by its pid); level 0 logs little.
        self.process = subprocess.Popen(
            [
                "slapd",
                "-f",
                str(self.conf),
                "-h",
                f"{self.uri}/ {self.tls_uri}/",
                "-d",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "slapd exited: " + (self.folder / "slapd.log").read_text(errors="replace")
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 15 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
