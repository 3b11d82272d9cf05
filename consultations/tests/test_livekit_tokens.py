"""LiveKit access tokens: grants, identity, room, TTL, and the client URL derived from the public
origin of the request; media mode and ICE server selection. Tokens are checked with livekit-api's
own TokenVerifier (what a LiveKit server does with them)."""
import jwt
import pytest
from django.test import RequestFactory
from livekit import api as livekit_api

from consultations.livekit_tokens import (
    LiveKitNotConfigured,
    ice_servers,
    livekit_client_url,
    livekit_token_for_doctor,
    livekit_token_for_patient,
    media_mode,
    turn_configured,
)

KEY, SECRET = "APIroomtests", "a-long-enough-livekit-secret-for-hs256-signing"


@pytest.fixture
def livekit_settings(settings):
    settings.LIVEKIT_URL = "http://127.0.0.1:7880"
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET
    settings.LIVEKIT_TOKEN_TTL_SECONDS = 300
    return settings


def _public_request(host="abc123.ngrok-free.app"):
    # As it arrives through a tunnel: Host = the public host, X-Forwarded-Proto = https.
    return RequestFactory().post("/x", HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")


def _verify(token: str):
    return livekit_api.TokenVerifier(KEY, SECRET).verify(token)


def test_it_mints_a_doctor_token_for_the_consultation_room_only(livekit_settings, consultation, alice):
    room_token = livekit_token_for_doctor(request=_public_request(), consultation=consultation)
    claims = _verify(room_token.token)

    assert claims.identity == f"doctor-{alice.pk}" == room_token.identity
    assert claims.video.room == consultation.room_name == room_token.room
    assert claims.video.room_join is True
    assert claims.video.can_subscribe is True
    assert claims.video.can_publish_sources == ["camera", "microphone"]
    assert claims.video.can_publish_data is False
    for admin_grant in ("room_admin", "room_create", "room_list", "room_record"):
        assert not getattr(claims.video, admin_grant)
    assert claims.name == "Alice Souza"


def test_it_mints_a_patient_token_without_personal_data(livekit_settings, consultation):
    room_token = livekit_token_for_patient(request=_public_request(), consultation=consultation)
    claims = _verify(room_token.token)
    assert claims.identity == f"patient-{consultation.pk}"
    assert claims.video.room == consultation.room_name
    assert claims.video.room_join is True and not claims.video.room_admin
    assert claims.name == "patient"
    assert "Maria" not in room_token.token and "Maria" not in str(claims)


def test_it_gives_tokens_a_short_ttl(livekit_settings, consultation):
    room_token = livekit_token_for_patient(request=_public_request(), consultation=consultation)
    payload = jwt.decode(room_token.token, SECRET, algorithms=["HS256"], issuer=KEY)
    assert payload["exp"] - payload["nbf"] == 300
    assert room_token.expires_in == 300


def test_it_rejects_a_token_checked_with_another_secret(livekit_settings, consultation):
    room_token = livekit_token_for_doctor(request=_public_request(), consultation=consultation)
    with pytest.raises(jwt.InvalidSignatureError):
        livekit_api.TokenVerifier(KEY, "another-secret-entirely-different-from-ours").verify(room_token.token)


def test_it_derives_the_client_url_from_the_public_origin_of_each_request(livekit_settings, consultation):
    first = livekit_token_for_doctor(request=_public_request("abc123.ngrok-free.app"), consultation=consultation)
    assert first.url == "wss://abc123.ngrok-free.app/lk"
    # The tunnel was reopened with a new host: the next request says so, nothing was baked in.
    second = livekit_token_for_patient(request=_public_request("novo-host.trycloudflare.com"), consultation=consultation)
    assert second.url == "wss://novo-host.trycloudflare.com/lk"
    local = RequestFactory().post("/x", HTTP_HOST="127.0.0.1:8000")
    assert livekit_client_url(local) == "ws://127.0.0.1:8000/lk"


def test_it_refuses_to_mint_without_keys(settings, consultation):
    settings.LIVEKIT_API_KEY = ""
    settings.LIVEKIT_API_SECRET = ""
    with pytest.raises(LiveKitNotConfigured):
        livekit_token_for_doctor(request=_public_request(), consultation=consultation)


def test_it_picks_livekit_in_auto_mode_only_when_configured(settings, livekit_settings):
    settings.MEDIA_MODE = "auto"
    assert media_mode() == "livekit"
    settings.LIVEKIT_URL = ""
    settings.LIVEKIT_AUTOSTART = False
    assert media_mode() == "p2p"
    settings.MEDIA_MODE = "livekit"
    assert media_mode() == "livekit"
    settings.MEDIA_MODE = "p2p"
    settings.LIVEKIT_URL = "http://127.0.0.1:7880"
    assert media_mode() == "p2p"


def test_it_builds_ice_servers_from_stun_and_turn_settings(settings):
    settings.ICE_SERVERS = []
    settings.STUN_URLS = ["stun:stun.example.org:3478"]
    settings.TURN_URL = "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349"
    settings.TURN_USERNAME = "medcall"
    settings.TURN_PASSWORD = "turn-secret"
    assert ice_servers() == [
        {"urls": ["stun:stun.example.org:3478"]},
        {
            "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
            "username": "medcall",
            "credential": "turn-secret",
        },
    ]
    assert turn_configured() is True
    settings.TURN_URL = ""
    assert turn_configured() is False
    settings.ICE_SERVERS = [{"urls": "turn:relay.example.org", "username": "u", "credential": "c"}]
    assert ice_servers() == [{"urls": "turn:relay.example.org", "username": "u", "credential": "c"}]
    assert turn_configured() is True
