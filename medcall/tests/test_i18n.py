"""pt-BR is the default language and its catalog is complete; `Accept-Language: en` gives English."""
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES"


@pytest.fixture(scope="module")
def po():
    return polib.pofile(str(LOCALE_DIR / "django.po"))


def test_it_has_no_untranslated_or_fuzzy_pt_br_entry(po):
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == [], f"untranslated pt-BR entries: {untranslated}"
    assert fuzzy == [], f"fuzzy pt-BR entries: {fuzzy}"
    assert not po.metadata_is_fuzzy
    assert po.metadata["Plural-Forms"] == "nplurals=2; plural=(n > 1);"


def test_it_keeps_placeholders_in_translations(po):
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    for entry in po.translated_entries():
        if entry.msgid_plural:
            continue
        assert sorted(placeholder.findall(entry.msgid)) == sorted(placeholder.findall(entry.msgstr)), entry.msgid


def test_it_has_a_compiled_catalog_matching_the_po_file(po):
    mo_path = LOCALE_DIR / "django.mo"
    assert mo_path.exists(), "run: python manage.py compilemessages -l pt_BR --ignore=.venv (make messages)"
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(mo_path)) if not e.msgid_plural}
    stale = [e.msgid for e in po.translated_entries() if not e.msgid_plural and compiled.get((e.msgctxt, e.msgid)) != e.msgstr]
    assert stale == [], f"django.mo is older than django.po for: {stale[:5]}"


PAGES = [
    ("/", "Painel", "Dashboard"),
    ("/patients/", "Buscar por nome ou CPF", "Search by name or CPF"),
    ("/patients/new/", "Nome completo", "Full name"),
    ("/patients/{patient}/", "Histórico de consultas", "Consultation history"),
    ("/patients/{patient}/edit/", "Editar paciente", "Edit patient"),
    ("/consultations/new/", "Agendar consulta", "Schedule consultation"),
    ("/consultations/{consultation}/", "Iniciar consulta", "Start consultation"),
    ("/consultations/{consultation}/edit/", "Editar consulta", "Edit consultation"),
    ("/patients/999999/", "Página não encontrada", "Page not found"),
]


@pytest.mark.parametrize("path, portuguese, english", PAGES)
def test_it_renders_doctor_pages_in_pt_br_by_default_and_english_on_request(
    alice_client, patient, consultation, path, portuguese, english
):
    url = path.format(patient=patient.pk, consultation=consultation.pk)
    pt = alice_client.get(url).content.decode()
    en = alice_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert portuguese in pt and english not in pt
    assert english in en and portuguese not in en
    assert '<html lang="pt-br">' in pt and '<html lang="en">' in en


def test_it_renders_the_login_page_in_english_on_request(client, db):
    body = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Log in to MedCall" in body and "Username" in body


def test_it_translates_service_errors_shown_on_forms(alice_client):
    data = {"full_name": "Ana", "cpf": "111.444.777-34"}
    pt = alice_client.post("/patients/new/", data).context["form"].errors["cpf"]
    en = alice_client.post("/patients/new/", data, HTTP_ACCEPT_LANGUAGE="en").context["form"].errors["cpf"]
    assert pt == ["CPF inválido: confira os dígitos verificadores."]
    assert en == ["Invalid CPF: check the verification digits."]
