"""The assistant's JSON API: scoped to the clinic (outsider: 404), PATCH status, note GET/PUT with
audit rows and versions, a final note refuses changes (409), AI usage totals per period."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from assist.models import AIUsage, ConsultationNote, NoteVersion, Suggestion
from assist.services import ai_usage_record, suggestions_refresh
from audit.models import AuditEvent

from .conftest import HEADACHE_WITH_FEVER

pytestmark = pytest.mark.django_db


@pytest.fixture
def shown(consultation, say):
    say(*HEADACHE_WITH_FEVER[1])
    return suggestions_refresh(consultation_id=consultation.pk)


def test_it_lists_the_visible_suggestions(alice_client, consultation, shown):
    response = alice_client.get(f"/api/v1/consultations/{consultation.pk}/suggestions/")
    assert response.status_code == 200
    body = response.json()
    assert [s["id"] for s in body] == [s.pk for s in shown]
    assert set(body[0]) == {"id", "text", "reason", "topic", "red_flag", "status", "source"}
    assert body[0]["red_flag"] is True and body[0]["status"] == "shown" and body[0]["source"] == "local"


def test_it_patches_the_status_and_moves_the_list_on(alice_client, consultation, shown):
    url = f"/api/v1/consultations/{consultation.pk}/suggestions/{shown[0].pk}/"
    response = alice_client.patch(url, {"status": "asked"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "asked"
    visible = alice_client.get(f"/api/v1/consultations/{consultation.pk}/suggestions/").json()
    assert shown[0].pk not in [s["id"] for s in visible]
    history = alice_client.get(f"/api/v1/consultations/{consultation.pk}/suggestions/?all=1").json()
    assert {"shown", "asked"} <= {s["status"] for s in history}

    bad = alice_client.patch(url, {"status": "shown"}, content_type="application/json")
    assert bad.status_code == 400 and "status" in bad.json()


def test_it_hides_other_clinics_consultations(charlie_client, consultation, shown):
    sid = shown[0].pk
    assert charlie_client.get(f"/api/v1/consultations/{consultation.pk}/suggestions/").status_code == 404
    patch = charlie_client.patch(f"/api/v1/consultations/{consultation.pk}/suggestions/{sid}/", {"status": "dismissed"},
                                 content_type="application/json")
    assert patch.status_code == 404
    assert Suggestion.objects.get(pk=sid).status == "shown"
    assert charlie_client.get(f"/api/v1/consultations/{consultation.pk}/note/").status_code == 404
    put = charlie_client.put(f"/api/v1/consultations/{consultation.pk}/note/",
                             {"subjective": "x", "objective": "", "assessment": "", "plan": ""},
                             content_type="application/json")
    assert put.status_code == 404 and not ConsultationNote.objects.exists()


def test_it_reads_and_writes_the_note_with_versions_and_audit(alice_client, alice, consultation):
    url = f"/api/v1/consultations/{consultation.pk}/note/"
    missing = alice_client.get(url)
    assert missing.status_code == 404 and "PUT" in missing.json()["detail"]

    body = {"subjective": "Cefaleia há 1 dia.", "objective": "T 38,4.", "assessment": "Viral?", "plan": "Dipirona."}
    first = alice_client.put(url, body, content_type="application/json")
    assert first.status_code == 200 and first.json()["version"] == 1 and first.json()["status"] == "draft"
    second = alice_client.put(url, {**body, "plan": "Dipirona 1 g de 6/6 h."}, content_type="application/json")
    assert second.json()["version"] == 2
    read = alice_client.get(url)
    assert read.json()["plan"] == "Dipirona 1 g de 6/6 h."

    note = ConsultationNote.objects.get(consultation=consultation)
    assert list(NoteVersion.objects.filter(note=note).values_list("number", flat=True)) == [2, 1]
    updates = AuditEvent.objects.filter(action="note.updated", actor=alice.user, target_id=str(consultation.pk))
    assert updates.count() == 2 and updates.first().extra["fields"] == ["plan"]
    view = AuditEvent.objects.get(action="note.viewed", actor=alice.user)
    assert view.extra == {"via": "api"}
    assert "Dipirona" not in str(updates.first().extra)  # the audit trail keeps no note text


def test_it_refuses_changes_to_a_final_note(alice_client, consultation):
    url = f"/api/v1/consultations/{consultation.pk}/note/"
    body = {"subjective": "S", "objective": "O", "assessment": "A", "plan": "P"}
    final = alice_client.put(url, {**body, "final": True}, content_type="application/json")
    assert final.status_code == 200 and final.json()["status"] == "final" and final.json()["finalized_at"]
    again = alice_client.put(url, {**body, "plan": "changed"}, content_type="application/json")
    assert again.status_code == 409 and "final" in again.json()["detail"]
    assert ConsultationNote.objects.get().plan == "P"
    assert AuditEvent.objects.filter(action="note.finalized").count() == 1


def test_it_totals_ai_usage_for_the_period(alice_client, consultation, outsider_consultation, bob, settings):
    settings.AI_PRICES_CURRENCY = "USD"
    ai_usage_record(consultation_id=consultation.pk, kind="transcription", engine="openai", audio_seconds=90)
    ai_usage_record(consultation_id=consultation.pk, kind="suggestions", engine="llm", tokens_in=2000, tokens_out=500)
    ai_usage_record(consultation_id=consultation.pk, kind="suggestions", engine="local", compute_seconds=0.25)
    ai_usage_record(consultation_id=outsider_consultation.pk, kind="transcription", engine="openai", audio_seconds=600)
    old = ai_usage_record(consultation_id=consultation.pk, kind="transcription", engine="openai", audio_seconds=60)
    AIUsage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=62))

    month = alice_client.get("/api/v1/ai-usage/?period=month").json()
    assert month["currency"] == "USD" and month["period"] == "month"
    totals = month["totals"]
    assert totals["calls"] == 3 and totals["audio_seconds"] == 90.0 and totals["tokens_in"] == 2000
    # 90 s × 0.006/min + 2k × 0.00015 + 0.5k × 0.0006 = 0.009 + 0.0003 + 0.0003
    assert Decimal(totals["cost"]) == Decimal("0.009600")
    assert {(r["kind"], r["engine"]) for r in month["by_engine"]} == {
        ("transcription", "openai"), ("suggestions", "llm"), ("suggestions", "local")}
    (doctor,) = month["by_doctor"]
    assert doctor["doctor"] == "Alice Souza" and doctor["calls"] == 3

    day = alice_client.get("/api/v1/ai-usage/?period=day").json()
    assert day["totals"]["calls"] == 3
    assert alice_client.get("/api/v1/ai-usage/?period=year").status_code == 400


def test_it_requires_a_doctor(client, consultation):
    assert client.get("/api/v1/ai-usage/").status_code == 401
