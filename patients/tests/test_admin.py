"""Admin for clinics, doctors and patients: pages load, reads and writes are audited through services."""
import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from patients.models import Patient


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "s3nha-forte-123")
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/patients/clinic/",
        "/admin/patients/doctor/",
        "/admin/patients/patient/",
        "/admin/patients/patient/add/",
        "/admin/auth/user/",
        "/admin/audit/auditevent/",
    ],
)
def test_it_loads_the_changelists(admin_client, alice, patient, path):
    assert admin_client.get(path).status_code == 200


def test_it_loads_the_change_pages(admin_client, alice, patient):
    assert admin_client.get(f"/admin/patients/clinic/{alice.clinic.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/patients/doctor/{alice.pk}/change/").status_code == 200
    res = admin_client.get(f"/admin/auth/user/{alice.user.pk}/change/")
    assert res.status_code == 200
    assert b"123456" in res.content  # the doctor profile inline (CRM) is on the user page


def test_it_searches_patients_by_name_and_formatted_cpf(admin_client, patient, outsider_patient):
    res = admin_client.get("/admin/patients/patient/", {"q": "529.982.247-25"})
    assert list(res.context["cl"].result_list) == [patient]
    res = admin_client.get("/admin/patients/patient/", {"q": "José"})
    assert list(res.context["cl"].result_list) == [outsider_patient]


def test_it_filters_patients_by_clinic(admin_client, patient, outsider_patient, other_clinic):
    res = admin_client.get("/admin/patients/patient/", {"clinic__id__exact": other_clinic.pk})
    assert list(res.context["cl"].result_list) == [outsider_patient]


def test_it_records_a_view_when_the_patient_page_opens(admin_client, patient):
    res = admin_client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert res.status_code == 200
    event = AuditEvent.objects.get(action="patient.viewed")
    assert event.actor == admin_client.user
    assert event.target_id == str(patient.pk) and event.extra == {"via": "admin"}


def test_it_creates_a_patient_through_the_service(admin_client, clinic):
    res = admin_client.post(
        "/admin/patients/patient/add/",
        {"clinic": clinic.pk, "full_name": "Ana Costa", "cpf": "529.982.247-25", "phone": "(11) 98765-4321"},
    )
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res
    p = Patient.objects.get()
    assert (p.cpf, p.phone, p.clinic) == ("52998224725", "+5511987654321", clinic)
    event = AuditEvent.objects.get(action="patient.created")
    assert event.actor == admin_client.user and event.target_id == str(p.pk)


def test_it_updates_a_patient_through_the_service(admin_client, patient):
    res = admin_client.post(
        f"/admin/patients/patient/{patient.pk}/change/",
        {"full_name": "Maria da Silva Santos", "cpf": patient.cpf, "phone": patient.phone, "email": patient.email},
    )
    assert res.status_code == 302
    patient.refresh_from_db()
    assert patient.full_name == "Maria da Silva Santos"
    event = AuditEvent.objects.get(action="patient.updated")
    assert event.extra == {"fields": ["full_name"]} and event.actor == admin_client.user


def test_it_shows_service_rules_as_field_errors(admin_client, clinic, patient):
    res = admin_client.post(
        "/admin/patients/patient/add/",
        {"clinic": clinic.pk, "full_name": "Outra", "cpf": "52998224725", "birth_date": "2999-01-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert res.status_code == 200
    errors = res.context["adminform"].form.errors
    assert errors["cpf"] == ["A patient with this CPF already exists in this clinic."]
    assert errors["birth_date"] == ["The birth date cannot be in the future."]
    assert Patient.objects.count() == 1


def test_it_deletes_a_patient_through_the_service(admin_client, patient):
    pk = patient.pk
    res = admin_client.post(f"/admin/patients/patient/{pk}/delete/", {"post": "yes"})
    assert res.status_code == 302
    assert not Patient.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.get(action="patient.deleted").target_id == str(pk)


def test_it_keeps_a_patient_with_consultations(admin_client, patient, consultation):
    res = admin_client.post(f"/admin/patients/patient/{patient.pk}/delete/", {"post": "yes"})
    assert res.status_code == 200  # Django lists the protected consultations instead of deleting
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_it_shows_staff_doctors_only_their_clinic(client, alice, patient, outsider_patient):
    from django.contrib.auth.models import Permission

    alice.user.is_staff = True
    alice.user.save()
    alice.user.user_permissions.add(Permission.objects.get(codename="view_patient"))
    client.force_login(alice.user)
    res = client.get("/admin/patients/patient/")
    assert list(res.context["cl"].result_list) == [patient]
    assert client.get(f"/admin/patients/patient/{outsider_patient.pk}/change/").status_code == 302  # "not found"
    assert not AuditEvent.objects.filter(action="patient.viewed").exists()


def test_it_audits_the_patients_a_change_list_showed_one_event_per_clinic(admin_client, patient, outsider_patient):
    admin_client.get("/admin/patients/patient/")
    events = {e.clinic_id: e.extra for e in AuditEvent.objects.filter(action="patient.listed")}
    assert events == {
        patient.clinic_id: {"via": "admin", "count": 1, "ids": [patient.pk]},
        outsider_patient.clinic_id: {"via": "admin", "count": 1, "ids": [outsider_patient.pk]},
    }
    assert all(e.actor == admin_client.user for e in AuditEvent.objects.filter(action="patient.listed"))


def test_it_does_not_audit_an_empty_change_list_search(admin_client, patient):
    assert admin_client.get("/admin/patients/patient/", {"q": "Inexistente"}).status_code == 200
    assert not AuditEvent.objects.filter(action="patient.listed").exists()
