"""`/api/v1/consultations/`: contract fields, filters, scoping, transitions (409 on illegal moves),
and the OpenAPI schema of the whole v1 API."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from consultations.models import Consultation

FIELDS = {"id", "patient", "type", "status", "scheduled_for", "chief_complaint", "started_at", "ended_at"}


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice.user)
    return client


@pytest.fixture
def outsider_api(charlie):
    client = APIClient()
    client.force_authenticate(charlie.user)
    return client


def url(pk=None, suffix=""):
    return "/api/v1/consultations/" if pk is None else f"/api/v1/consultations/{pk}/{suffix}"


def when(hours=1):
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def test_it_lists_only_the_clinic_consultations(api, consultation, outsider_consultation):
    body = api.get(url()).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [c["id"] for c in body["results"]] == [consultation.pk]
    assert set(body["results"][0]) == FIELDS
    assert body["results"][0]["patient"] == consultation.patient_id


def test_it_filters_by_patient_and_status(api, alice, consultation, ctx_system, clinic):
    from consultations.services import consultation_create, consultation_transition
    from patients.services import patient_create

    other = patient_create(ctx=ctx_system, clinic=clinic, full_name="Carlos Pereira")
    second = consultation_create(ctx=ctx_system, doctor=alice, patient=other, scheduled_for=timezone.now())
    consultation_transition(ctx=ctx_system, consultation=second, to="in_progress")
    assert [c["id"] for c in api.get(url(), {"patient": other.pk}).json()["results"]] == [second.pk]
    assert [c["id"] for c in api.get(url(), {"status": "waiting"}).json()["results"]] == [consultation.pk]
    assert api.get(url(), {"status": "in_progress", "patient": consultation.patient_id}).json()["count"] == 0


def test_it_rejects_unknown_filter_values(api, consultation):
    res = api.get(url(), {"status": "sleeping", "patient": "abc"}, HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    assert set(res.json()) == {"status", "patient"}


def test_it_schedules_a_consultation(api, alice, patient):
    res = api.post(
        url(), {"patient": patient.pk, "scheduled_for": when(), "type": "in_person", "chief_complaint": " Febre "}, format="json"
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert set(body) == FIELDS
    assert body["status"] == "waiting" and body["type"] == "in_person" and body["chief_complaint"] == "Febre"
    assert body["started_at"] is None and body["ended_at"] is None
    consultation = Consultation.objects.get(pk=body["id"])
    assert consultation.doctor == alice and consultation.clinic == alice.clinic
    event = AuditEvent.objects.get(action="consultation.created", target_id=str(body["id"]))
    assert event.actor == alice.user
    assert "Febre" not in str(event.extra)


def test_it_defaults_to_an_online_consultation(api, patient):
    res = api.post(url(), {"patient": patient.pk, "scheduled_for": when()}, format="json")
    assert res.status_code == 201
    assert res.json()["type"] == "online"


def test_it_answers_another_clinic_patient_like_a_missing_one(api, outsider_patient):
    res_other = api.post(url(), {"patient": outsider_patient.pk, "scheduled_for": when()}, format="json")
    res_missing = api.post(url(), {"patient": 999999, "scheduled_for": when()}, format="json")
    assert res_other.status_code == res_missing.status_code == 400
    assert res_other.json() == res_missing.json()
    assert list(res_other.json()) == ["patient"]
    assert not Consultation.objects.filter(patient=outsider_patient, doctor__user__username="alice").exists()


def test_it_gives_per_field_errors_in_the_request_language(api, patient):
    res = api.post(url(), {"patient": patient.pk, "type": "video"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    body = res.json()
    assert body["scheduled_for"] == ["This field is required."]
    assert body["type"] == ['"video" is not a valid choice.']
    res = api.post(url(), {"patient": patient.pk, "type": "video"}, format="json")
    assert res.json()["scheduled_for"] == ["Este campo é obrigatório."]


def test_it_reads_one_consultation_and_records_the_view(api, alice, consultation):
    res = api.get(url(consultation.pk))
    assert res.status_code == 200
    assert res.json()["id"] == consultation.pk
    event = AuditEvent.objects.get(action="consultation.viewed", target_id=str(consultation.pk))
    assert event.actor == alice.user and event.extra == {"via": "api"}


def test_it_patches_scheduling_fields(api, consultation):
    new_time = timezone.now() + timedelta(days=2)
    res = api.patch(url(consultation.pk), {"type": "in_person", "scheduled_for": new_time.isoformat()}, format="json")
    assert res.status_code == 200, res.content
    consultation.refresh_from_db()
    assert consultation.type == "in_person"
    assert consultation.scheduled_for == new_time
    event = AuditEvent.objects.get(action="consultation.updated", target_id=str(consultation.pk))
    assert event.extra == {"fields": ["scheduled_for", "type"]}


def test_it_refuses_status_and_patient_in_patch(api, consultation, ctx_system, clinic):
    res = api.patch(url(consultation.pk), {"status": "completed", "patient": 1}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    body = res.json()
    assert "transition" in body["status"][0]
    assert "patient" in body
    consultation.refresh_from_db()
    assert consultation.status == "waiting"


def test_it_refuses_to_reschedule_a_closed_consultation(api, consultation, ctx_system):
    from consultations.services import consultation_transition

    consultation_transition(ctx=ctx_system, consultation=consultation, to="cancelled")
    res = api.patch(url(consultation.pk), {"scheduled_for": when(5)}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    assert res.json() == {"non_field_errors": ["A completed or cancelled consultation cannot be rescheduled."]}


def test_it_moves_status_through_transition(api, alice, consultation):
    res = api.post(url(consultation.pk, "transition/"), {"to": "in_progress"}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "in_progress" and body["started_at"] is not None
    res = api.post(url(consultation.pk, "transition/"), {"to": "completed"}, format="json")
    assert res.json()["status"] == "completed" and res.json()["ended_at"] is not None
    moves = AuditEvent.objects.filter(action="consultation.status_changed", target_id=str(consultation.pk))
    assert sorted((e.extra["from"], e.extra["to"]) for e in moves) == [
        ("in_progress", "completed"),
        ("waiting", "in_progress"),
    ]
    assert all(e.actor == alice.user for e in moves)


def test_it_answers_409_on_an_illegal_move(api, consultation):
    res = api.post(url(consultation.pk, "transition/"), {"to": "completed"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 409
    assert res.json() == {
        "detail": "A consultation cannot move from “Waiting” to “Completed”.",
        "current": "waiting",
        "requested": "completed",
    }
    res = api.post(url(consultation.pk, "transition/"), {"to": "completed"}, format="json")
    assert res.status_code == 409
    assert res.json()["detail"] == "Uma consulta não pode passar de “Aguardando” para “Concluída”."
    consultation.refresh_from_db()
    assert consultation.status == "waiting"


def test_it_answers_400_on_an_unknown_status(api, consultation):
    res = api.post(url(consultation.pk, "transition/"), {"to": "paused"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    assert res.json() == {"to": ['"paused" is not a valid choice.']}
    assert api.post(url(consultation.pk, "transition/"), {}, format="json").status_code == 400


@pytest.mark.parametrize(
    "method,suffix,data",
    [("get", "", None), ("patch", "", {"chief_complaint": "x"}), ("post", "transition/", {"to": "cancelled"})],
)
def test_it_answers_404_for_another_clinic_consultation(outsider_api, consultation, method, suffix, data):
    res = getattr(outsider_api, method)(url(consultation.pk, suffix), data, format="json")
    assert res.status_code == 404
    consultation.refresh_from_db()
    assert consultation.status == "waiting" and consultation.chief_complaint == "Dor de cabeça"
    assert not AuditEvent.objects.filter(target_type="consultations.consultation").exclude(action="consultation.created").exists()


def test_it_refuses_delete(api, consultation):
    assert api.delete(url(consultation.pk)).status_code == 405


# The endpoints this module's contract covers (other features add their own under /api/v1/).
CONTRACT_URL_NAMES = {
    "api-patient-list",
    "api-patient-detail",
    "api-consultation-list",
    "api-consultation-detail",
    "api-consultation-transition",
}


def test_it_describes_the_contract_endpoints_without_schema_warnings():
    from django.urls import include, path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    from medcall import api_urls

    patterns = [path("api/v1/", include([p for p in api_urls.urlpatterns if getattr(p, "name", None) in CONTRACT_URL_NAMES]))]
    assert len(patterns[0].url_patterns) == len(CONTRACT_URL_NAMES)
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    # drf-spectacular must understand every contract endpoint without guessing.
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, (
        dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    )
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths["/api/v1/patients/"]) >= {"get", "post"}
    assert set(paths["/api/v1/patients/{id}/"]) >= {"get", "patch", "delete"}
    assert set(paths["/api/v1/consultations/"]) >= {"get", "post"}
    assert set(paths["/api/v1/consultations/{id}/"]) >= {"get", "patch"}
    assert "409" in paths["/api/v1/consultations/{id}/transition/"]["post"]["responses"]
    components = schema["components"]["schemas"]
    assert set(components["Consultation"]["properties"]) == FIELDS
    assert set(components["Patient"]["properties"]) == {"id", "full_name", "cpf", "birth_date", "phone", "email", "notes"}


def test_it_serves_the_schema_over_http(alice_client):
    res = alice_client.get("/api/schema/")
    assert res.status_code == 200
    assert b"/api/v1/consultations/{id}/transition/" in res.content


def test_it_records_which_consultations_a_list_page_showed(api, alice, consultation, outsider_consultation):
    assert [c["id"] for c in api.get(url()).json()["results"]] == [consultation.pk]
    event = AuditEvent.objects.get(action="consultation.listed")
    assert (event.actor, event.clinic_id, event.target_type) == (alice.user, alice.clinic_id, "consultations.consultation")
    assert event.extra == {"via": "api", "count": 1, "ids": [consultation.pk]}
