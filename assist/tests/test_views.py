"""The htmx fragments on the doctor's pages: the suggestion list with "perguntei"/"dispensar" and the
per-consultation switch; where they are included; the AI usage admin with totals and its chart."""
import pytest

from assist.models import AssistPreference, Suggestion
from assist.services import ai_usage_record, suggestions_refresh
from audit.models import AuditEvent

from .conftest import HEADACHE_WITH_FEVER

pytestmark = pytest.mark.django_db


@pytest.fixture
def shown(consultation, say):
    say(*HEADACHE_WITH_FEVER[1])
    return suggestions_refresh(consultation_id=consultation.pk)


def test_it_renders_the_list_with_asked_and_dismiss_buttons(alice_client, consultation, shown):
    html = alice_client.get(f"/consultations/{consultation.pk}/assist/suggestions/").content.decode()
    assert "Perguntas sugeridas" in html and "Perguntei" in html and "Dispensar" in html
    assert shown[0].text in html and 'class="assist-item red-flag"' in html
    assert html.index(shown[0].text) < html.index(shown[-1].text)


def test_it_shows_english_text_when_english_is_active(alice_client, consultation, shown):
    alice_client.cookies["django_language"] = "en"
    html = alice_client.get(f"/consultations/{consultation.pk}/assist/suggestions/").content.decode()
    assert shown[0].text_en in html and "Suggested questions" in html


def test_it_marks_asked_from_the_button_and_shows_the_next(alice_client, alice, consultation, shown):
    url = f"/consultations/{consultation.pk}/assist/suggestions/{shown[0].pk}/"
    html = alice_client.post(url, {"status": "asked"}, HTTP_HX_REQUEST="true").content.decode()
    assert Suggestion.objects.get(pk=shown[0].pk).status == "asked"
    assert shown[0].text not in html and html.count('class="assist-item') == 3
    assert AuditEvent.objects.filter(action="suggestion.asked", actor=alice.user).exists()
    assert alice_client.post(url, {"status": "bogus"}).status_code == 400


def test_it_turns_suggestions_off_and_on(alice_client, consultation, shown):
    url = f"/consultations/{consultation.pk}/assist/suggestions/toggle/"
    off = alice_client.post(url, {"enabled": "off"}).content.decode()
    assert "As sugestões estão desativadas nesta consulta." in off and "Ativar sugestões" in off
    assert AssistPreference.objects.get(consultation=consultation).suggestions_enabled is False
    on = alice_client.post(url, {"enabled": "on"}).content.decode()
    assert shown[0].text in on


def test_it_hides_fragments_from_other_clinics(alice_client, charlie, consultation, shown):
    alice_client.force_login(charlie.user)
    assert alice_client.get(f"/consultations/{consultation.pk}/assist/suggestions/").status_code == 404
    assert alice_client.post(f"/consultations/{consultation.pk}/assist/suggestions/{shown[0].pk}/",
                             {"status": "dismissed"}).status_code == 404
    assert alice_client.get(f"/consultations/{consultation.pk}/assist/note/").status_code == 404
    assert Suggestion.objects.get(pk=shown[0].pk).status == "shown"


def test_it_is_included_in_the_room_in_person_and_detail_pages(alice_client, consultation):
    from consultations.models import Consultation

    suggestions = f"/consultations/{consultation.pk}/assist/suggestions/"
    room = alice_client.get(f"/consultations/{consultation.pk}/room/")
    assert room.status_code == 200 and suggestions in room.content.decode()
    Consultation.objects.filter(pk=consultation.pk).update(type="in_person")
    assert suggestions in alice_client.get(f"/consultations/{consultation.pk}/in-person/").content.decode()
    detail = alice_client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert f"/consultations/{consultation.pk}/assist/note/" in detail


def test_it_shows_usage_totals_and_a_chart_in_the_admin(client, django_user_model, consultation, bob):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "s3nha-forte-123")
    client.force_login(admin)
    ai_usage_record(consultation_id=consultation.pk, kind="transcription", engine="openai", audio_seconds=600)
    ai_usage_record(consultation_id=consultation.pk, kind="suggestions", engine="local", compute_seconds=0.2)
    html = client.get("/admin/assist/aiusage/").content.decode()
    assert 'id="ai-usage-summary"' in html and 'id="ai-usage-chart"' in html
    assert html.count("<rect ") == 30  # one bar per day
    assert "0,0600" in html or "0.0600" in html  # 10 min at 0.006/min, this month and today
    assert "Alice" in html
