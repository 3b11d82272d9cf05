"""LAN: HTTPS on this machine's local-network address with a self-signed certificate.

Phones only allow camera and microphone on HTTPS pages, so even on the clinic's Wi-Fi the patient
needs HTTPS. The certificate is generated once with `cryptography`, kept under var/tls/ (key 0600),
and regenerated when the LAN address is no longer in it or it is about to expire. This provider does
not carry traffic itself: runtunnels makes Daphne also listen with TLS on LAN_HTTPS_PORT using the
Twisted endpoint string from `lan_tls_endpoint()`.
"""
from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.utils.translation import gettext as _

from tunnels.providers.base import TunnelError, TunnelHandle, TunnelProvider

logger = logging.getLogger(__name__)

CERT_NAME = "lan-cert.pem"
KEY_NAME = "lan-key.pem"
VALID_DAYS = 365
RENEW_BEFORE_DAYS = 30


def lan_address() -> str:
    """This machine's primary non-loopback IPv4 address, or 127.0.0.1 when it has none.

    Connecting a UDP socket sends no packet; it only asks the kernel which source address it would
    use for the default route. LAN_ADDRESS overrides it (machines with VPN or several interfaces).
    """
    configured = getattr(settings, "LAN_ADDRESS", "")
    if configured:
        return configured
    for target in ("192.0.2.1", "10.255.255.255"):  # TEST-NET-1 / private: never actually contacted
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                address = probe.getsockname()[0]
        except OSError:
            continue
        if address and not address.startswith("127.") and address != "0.0.0.0":
            return address
    return "127.0.0.1"


def tls_dir() -> Path:
    return Path(settings.VAR_DIR) / "tls"


def _san_ips(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def _needs_new_certificate(cert_path: Path, key_path: Path, ips: list[str]) -> bool:
    if not cert_path.exists() or not key_path.exists():
        return True
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return True
    renew_at = cert.not_valid_after_utc - datetime.timedelta(days=RENEW_BEFORE_DAYS)
    if datetime.datetime.now(datetime.UTC) >= renew_at:
        return True
    return not set(ips) <= _san_ips(cert)


def lan_certificate(*, directory: Path | None = None, ips: list[str] | None = None) -> tuple[Path, Path]:
    """(cert_path, key_path) of a self-signed certificate valid for the LAN address(es), 127.0.0.1 and
    localhost; generated on first use and reused while it still fits."""
    directory = Path(directory) if directory else tls_dir()
    lan_ips = ips if ips is not None else [lan_address()]
    wanted = list(dict.fromkeys([*lan_ips, "127.0.0.1"]))
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if not _needs_new_certificate(cert_path, key_path, wanted):
        return cert_path, key_path

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname() or "medcall"
    names = [x509.DNSName("localhost")]
    for dns in dict.fromkeys([hostname, f"{hostname}.local"]):
        try:
            names.append(x509.DNSName(dns))
        except ValueError:
            pass
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in wanted]
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MedCall"), x509.NameAttribute(NameOID.COMMON_NAME, wanted[0])]
    )
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    # Self-signed and marked as its own CA so clients can trust exactly this file (tunnel_verify
    # uses it as cafile; strict X.509 checks want CA + keyCertSign on a trust anchor).
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Create the key file 0600 from the start: never world-readable, not even briefly.
    tmp_key = key_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    os.chmod(tmp_key, 0o600)
    os.replace(tmp_key, key_path)
    tmp_cert = cert_path.with_suffix(".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_cert, cert_path)
    logger.info("generated a LAN TLS certificate for %s in %s", ", ".join(wanted), directory)
    return cert_path, key_path


def _endpoint_escape(value: str) -> str:
    # Twisted endpoint strings separate fields with ":" and "="; a backslash escapes them (Windows paths).
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def lan_tls_endpoint(port: int, *, interface: str = "0.0.0.0", directory: Path | None = None) -> str:
    """Twisted endpoint description for Daphne (`daphne -e ...` / Server(endpoints=[...])) serving TLS
    with the LAN certificate on `port`."""
    cert_path, key_path = lan_certificate(directory=directory)
    return _endpoint_string(port, interface, cert_path, key_path)


def _endpoint_string(port: int, interface: str, cert_path: Path, key_path: Path) -> str:
    return (
        f"ssl:port={int(port)}:interface={_endpoint_escape(interface)}"
        f":privateKey={_endpoint_escape(str(key_path))}:certKey={_endpoint_escape(str(cert_path))}"
    )


class LanProvider(TunnelProvider):
    name = "lan"

    def __init__(self, *, https_port: int | None = None, directory: Path | None = None, address: str | None = None):
        self.https_port = int(https_port if https_port is not None else settings.LAN_HTTPS_PORT)
        self.directory = Path(directory) if directory else tls_dir()
        self.address = address  # None: detect on open()
        self.verify_ca = str(self.directory / CERT_NAME)
        self._handle: TunnelHandle | None = None

    def available(self) -> tuple[bool, str]:
        return True, ""

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        address = self.address or lan_address()
        try:
            cert_path, key_path = lan_certificate(directory=self.directory, ips=[address])
        except OSError as exc:
            raise TunnelError(
                _(
                    "MedCall could not write its HTTPS certificate in %(dir)s (%(reason)s). Make that folder "
                    "writable and restart; the LAN address would be https://%(ip)s:%(port)s."
                )
                % {"dir": self.directory, "reason": exc.strerror or exc, "ip": address, "port": self.https_port},
                code="certificate",
                port=self.https_port,
            )
        self.verify_ca = str(cert_path)
        details = {
            "lan_ip": address,
            "https_port": self.https_port,
            "cert_path": str(cert_path),
            # The certificate just made for `address`; lan_tls_endpoint() would detect the address again.
            "tls_endpoint": _endpoint_string(self.https_port, "0.0.0.0", cert_path, key_path),
        }
        if address == "127.0.0.1":
            details["warning"] = _(
                "This computer has no local-network address: only this computer can open the link. Connect it to "
                "the clinic's Wi-Fi or network and restart the tunnel."
            )
        self._handle = TunnelHandle(
            provider=self.name, public_url=f"https://{address}:{self.https_port}", local_port=local_port, details=details
        )
        return self._handle

    def close(self) -> None:
        self._handle = None

    def is_alive(self) -> bool:
        if self._handle is None:
            return False
        address = self._handle.details["lan_ip"]
        if self.address is None and lan_address() != address:
            return False  # the machine moved to another network: the URL (and certificate) must change
        try:
            with socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5):
                return True
        except OSError:
            return False

    def media_note(self) -> str:
        return _(
            "Local network only: the patient must be on the same Wi-Fi or network as this computer and accept the "
            "certificate warning once; video then flows directly between the two devices on the local network."
        )
