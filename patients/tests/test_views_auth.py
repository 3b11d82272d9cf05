import pytest
from django.contrib.auth import get_user_model

PASSWORD = "s3nha-forte-123"


def test_it_shows_the_login_page_in_portuguese_by_default(client, db):
    response = client.get("/accounts/login/")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="pt-br">' in body
    assert "Entrar no MedCall" in body
    assert 'name="viewport"' in body


def test_it_logs_a_doctor_in_and_sends_them_to_the_dashboard(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_it_explains_a_wrong_password(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "errada"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Confira os dois campos e tente novamente." in body
    assert "_auth_user_id" not in client.session


def test_it_logs_out_only_by_post(alice_client):
    assert alice_client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in alice_client.session
    response = alice_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in alice_client.session


@pytest.mark.parametrize("url", ["/", "/patients/", "/patients/new/", "/consultations/new/"])
def test_it_shows_a_friendly_page_to_users_without_a_doctor_profile(client, db, url):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 403
    assert "Sua conta não tem perfil de médico(a)" in body
    assert "/admin/" in body


def test_it_switches_the_language_with_the_selector(alice_client):
    assert "Painel" in alice_client.get("/").content.decode()
    response = alice_client.post("/i18n/setlang/", {"language": "en", "next": "/patients/"})
    assert response.status_code == 302 and response["Location"] == "/patients/"
    body = alice_client.get("/").content.decode()
    assert '<html lang="en">' in body
    assert "Dashboard" in body and "New consultation" in body

