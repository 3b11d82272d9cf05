"""Provider errors → TunnelErrors with stable codes and actionable pt-BR (default) / English messages."""
import pytest
from django.utils import translation

from tunnels import failures
from tunnels.tests.doubles.ngrok_agent import PAGE_8012


def sdk_error(code=None, cause="authentication failed: Usage of ngrok requires a verified account and authtoken."):
    # ngrok-python raises ValueError((message, cause[, error_code])) — src/lib.rs py_ngrok_err.
    args = ("failed to connect session", cause) + ((code,) if code else ())
    return ValueError(*args)


@pytest.mark.parametrize("code", ["ERR_NGROK_105", "ERR_NGROK_107", "ERR_NGROK_4018"])
def test_it_maps_sdk_authtoken_errors(code):
    error = failures.ngrok_sdk_failure(sdk_error(code), port=8000)
    assert error.code == "ngrok_auth"
    assert error.port == 8000
    assert "NGROK_AUTHTOKEN" in error.message
    assert "dashboard.ngrok.com" in error.message


def test_it_maps_another_agent_session_and_domain_already_online():
    session = failures.ngrok_sdk_failure(sdk_error("ERR_NGROK_108", "limited to 1 simultaneous ngrok agent session"), port=8000)
    online = failures.ngrok_sdk_failure(sdk_error("ERR_NGROK_334", 'The endpoint "https://x.ngrok-free.app" is already online.'), port=8000)
    assert session.code == "ngrok_session_limit"
    assert online.code == "ngrok_already_online"
    assert "NGROK_DOMAIN" in online.message
    assert "127.0.0.1:8000" in session.message


def test_it_reads_the_code_from_the_text_when_the_sdk_gives_no_code_field():
    error = failures.ngrok_sdk_failure(ValueError("failed to start tunnel: ... ERR_NGROK_334"), port=8000)
    assert error.code == "ngrok_already_online"


def test_it_treats_a_session_without_code_as_a_connection_problem():
    error = failures.ngrok_sdk_failure(sdk_error(None, "failed to establish tcp connection"), port=8000)
    assert error.code == "ngrok_connect"
    assert "8000" in error.message
    assert "443" in error.message


def test_it_finds_the_upstream_named_on_an_8012_page():
    page = PAGE_8012.format(upstream="localhost:8000", dial="[::1]:8000")
    assert failures.ngrok_error_code_in(page) == "ERR_NGROK_8012"
    assert failures.ngrok_upstream_in(page) == "localhost:8000"


def test_it_explains_8012_with_the_port_and_the_localhost_advice_in_portuguese():
    error = failures.ngrok_failure("ERR_NGROK_8012", upstream="localhost:8000", public_url="https://a.ngrok-free.app")
    assert error.code == "ngrok_8012"
    assert error.port == 8000
    assert "ERR_NGROK_8012" in error.message
    assert "ngrok http 127.0.0.1:8000" in error.message
    assert "porta 8000" in error.message  # pt-BR is the default language
    assert "localhost" in error.message


def test_it_explains_3200_in_english_when_english_is_active():
    with translation.override("en"):
        error = failures.ngrok_failure("ERR_NGROK_3200", port=8000, public_url="https://a.ngrok-free.app")
    assert error.code == "ngrok_3200"
    assert "https://a.ngrok-free.app is offline" in error.message


def test_it_keeps_unknown_ngrok_codes_recognisable():
    error = failures.ngrok_failure("ERR_NGROK_3004", port=8000)
    assert error.code == "ngrok_3004"
    assert "ERR_NGROK_3004" in error.message


def test_it_recognises_the_cloudflared_rate_limit():
    output = 'ERR Error unmarshaling QuickTunnel response: status_code="429 Too Many Requests"'
    error = failures.cloudflared_failure(output, port=8000, returncode=1)
    assert error.code == "cloudflared_rate_limit"
    assert "429" in error.message and "8000" in error.message
    assert error.details["returncode"] == 1


def test_it_reports_other_cloudflared_exits_with_their_output():
    error = failures.cloudflared_failure("ERR failed to dial to edge with quic", port=8000)
    assert error.code == "cloudflared_failed"
    assert "failed to dial" in error.details["output"]


def test_it_never_puts_the_authtoken_in_a_message():
    token = "2abcSECRETtoken_xyz"
    error = failures.ngrok_sdk_failure(sdk_error("ERR_NGROK_105"), port=8000)
    assert token not in error.message and token not in str(error.details)
