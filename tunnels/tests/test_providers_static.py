"""static provider: PUBLIC_BASE_URL validated and handed out as is."""
import pytest

from tunnels.providers.base import TunnelError
from tunnels.providers.static import StaticProvider


def test_it_opens_the_configured_https_url_without_trailing_slash():
    provider = StaticProvider(public_url="https://clinica.example.com/")
    assert provider.available() == (True, "")
    handle = provider.open(local_host="127.0.0.1", local_port=8000)
    assert handle.public_url == "https://clinica.example.com"
    assert handle.provider == "static" and handle.local_port == 8000
    assert provider.is_alive()
    provider.close()
    assert not provider.is_alive()


def test_it_takes_the_url_from_settings(settings):
    settings.PUBLIC_BASE_URL = "https://medcall.example.org:8443"
    assert StaticProvider().open(local_host="127.0.0.1", local_port=8000).public_url == "https://medcall.example.org:8443"


def test_it_allows_plain_http_only_for_localhost():
    assert StaticProvider(public_url="http://localhost:8000").available()[0]
    ok, reason = StaticProvider(public_url="http://clinica.example.com").available()
    assert not ok and "https://" in reason


@pytest.mark.parametrize("url", ["", "clinica.example.com", "ftp://x.example.com", "https://x.example.com/medcall"])
def test_it_refuses_unusable_urls_with_a_reason(url):
    provider = StaticProvider(public_url=url)
    ok, reason = provider.available()
    assert not ok and "PUBLIC_BASE_URL" in reason
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "static_invalid"
    assert caught.value.message == reason
