"""lan provider: the self-signed certificate (generated once, reused, renewed) and the Daphne TLS
endpoint runtunnels passes to the real server."""
import datetime
import ipaddress
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tunnels.providers.base import TunnelError
from tunnels.providers.lan import LanProvider, lan_address, lan_certificate, lan_tls_endpoint
from tunnels.providers.localhttp import http_get
from tunnels.verify import tunnel_verify

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def san_of(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}, set(san.get_values_for_type(x509.DNSName))


def test_it_finds_an_ipv4_lan_address_or_loopback():
    address = ipaddress.ip_address(lan_address())
    assert address.version == 4
    assert not address.is_unspecified


def test_it_generates_the_certificate_once_and_reuses_it(tmp_path):
    cert, key = lan_certificate(directory=tmp_path, ips=["192.168.0.10"])
    first = cert.read_bytes()

    again_cert, again_key = lan_certificate(directory=tmp_path, ips=["192.168.0.10"])

    assert (again_cert, again_key) == (cert, key)
    assert again_cert.read_bytes() == first
    assert key.stat().st_mode & 0o777 == 0o600
    ips, names = san_of(cert)
    assert {"192.168.0.10", "127.0.0.1"} <= ips
    assert "localhost" in names


def test_it_makes_a_new_certificate_when_the_lan_address_changes(tmp_path):
    cert, _ = lan_certificate(directory=tmp_path, ips=["192.168.0.10"])
    first = cert.read_bytes()
    lan_certificate(directory=tmp_path, ips=["10.0.0.7"])
    assert cert.read_bytes() != first
    assert "10.0.0.7" in san_of(cert)[0]


def test_it_renews_a_certificate_about_to_expire(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "192.168.0.10")])
    now = datetime.datetime.now(datetime.UTC)
    old = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=360))
        .not_valid_after(now + datetime.timedelta(days=5))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(i)) for i in ("192.168.0.10", "127.0.0.1")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "lan-cert.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "lan-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    cert, _ = lan_certificate(directory=tmp_path, ips=["192.168.0.10"])

    renewed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert renewed.not_valid_after_utc - now > datetime.timedelta(days=300)


def test_it_opens_on_the_lan_address_with_its_certificate(tmp_path):
    https_port = free_port()
    provider = LanProvider(https_port=https_port, directory=tmp_path, address="192.168.0.10")
    assert provider.available() == (True, "")

    handle = provider.open(local_host="127.0.0.1", local_port=8000)

    assert handle.provider == "lan"
    assert handle.public_url == f"https://192.168.0.10:{https_port}"
    assert handle.local_port == 8000
    assert provider.verify_ca == str(tmp_path / "lan-cert.pem")
    assert handle.details["tls_endpoint"].startswith(f"ssl:port={https_port}:interface=0.0.0.0:privateKey=")
    assert "mesma rede" in provider.media_note()
    # Nothing serves TLS on the port yet: not alive. Once something listens there, alive.
    assert not provider.is_alive()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", https_port))
        listener.listen(1)
        assert provider.is_alive()
    provider.close()
    assert not provider.is_alive()


def test_it_explains_a_certificate_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "tls"
    blocker.write_text("a file where the folder should be")
    provider = LanProvider(https_port=8443, directory=blocker, address="192.168.0.10")
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "certificate"
    assert str(blocker) in caught.value.message


@pytest.mark.slow
def test_daphne_serves_tls_with_the_endpoint_and_tunnel_verify_trusts_only_our_certificate(tmp_path):
    port = free_port()
    endpoint = lan_tls_endpoint(port, interface="127.0.0.1", directory=tmp_path)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "medcall.settings", "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-e", endpoint, "medcall.asgi:application"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    cert = str(tmp_path / "lan-cert.pem")
    url = f"https://127.0.0.1:{port}"
    try:
        body = None
        for _ in range(300):  # up to ~30 s on a busy machine; the assertion is on behaviour, not time
            if server.poll() is not None:
                pytest.fail(f"daphne exited: {server.stderr.read()[-2000:]}")
            try:
                body = http_get(f"{url}/healthz", timeout=2, verify=cert).json()
                break
            except OSError:
                time.sleep(0.1)
        assert body is not None and body["instance"]

        assert tunnel_verify(url, expected_instance=body["instance"], verify=cert)["instance"] == body["instance"]
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(url, expected_instance=body["instance"], verify=True)
        assert caught.value.code == "certificate"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
