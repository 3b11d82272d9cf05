"""Error reports never carry health data, whatever DEBUG says (medcall/error_reporting.py)."""
import sys

import pytest
from django.db import IntegrityError
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path
from django.views.debug import get_exception_reporter_class, get_exception_reporter_filter

from medcall.error_reporting import HealthDataExceptionReporter, HealthDataExceptionReporterFilter

# Built at run time: the report shows source lines around each frame, and these must be found
# only if a value leaked, not because the test's own source is quoted.
PATIENT_NAME = " ".join(["Maria", "Confidencial"])
CPF = "".join(["529", "982", "247", "25"])
COMPLAINT = " ".join(["dor", "torácica", "desde", "ontem"])


def _failing_patient_view(request):
    full_name = request.POST.get("full_name")  # a local with health data in the failing frame
    complaint = request.POST.get("chief_complaint")
    raise ValueError(f"could not save the record ({len(full_name) + len(complaint)} chars)")


def _failing_unique_cpf_view(request):
    # What psycopg says when the (clinic, cpf) unique constraint fails.
    raise IntegrityError(
        'duplicate key value violates unique constraint "uniq_patient_cpf_per_clinic"\n'
        f"DETAIL:  Key (clinic_id, cpf)=(1, {CPF}) already exists."
    )


def _ok_view(request):
    return HttpResponse("ok")


urlpatterns = [
    path("boom/", _failing_patient_view),
    path("duplicate/", _failing_unique_cpf_view),
    path("ok/", _ok_view),
]


def _report_for(request, view):
    try:
        view(request)
    except Exception:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        return reporter.get_traceback_text(), reporter.get_traceback_html()
    raise AssertionError("the view was expected to raise")


def _assert_no_health_data(text):
    for value in (PATIENT_NAME, CPF, COMPLAINT):
        assert value not in text


def test_it_is_the_configured_reporter_and_filter():
    request = RequestFactory().get("/")

    assert isinstance(get_exception_reporter_filter(request), HealthDataExceptionReporterFilter)
    assert get_exception_reporter_class(request) is HealthDataExceptionReporter


@pytest.mark.parametrize("debug", [False, True])
def test_it_hides_post_values_and_frame_locals(settings, debug):
    settings.DEBUG = debug
    request = RequestFactory().post(
        "/patients/new/", {"full_name": PATIENT_NAME, "cpf": CPF, "chief_complaint": COMPLAINT}
    )

    text, html = _report_for(request, _failing_patient_view)

    _assert_no_health_data(text)
    _assert_no_health_data(html)
    # Still useful for debugging: the exception, the parameter and variable names, the path.
    assert "could not save the record" in text
    assert "full_name" in text and "chief_complaint" in text
    assert "/patients/new/" in text
    assert HealthDataExceptionReporterFilter.cleansed_substitute in text


def test_it_hides_query_string_values(settings):
    settings.DEBUG = True
    request = RequestFactory().post(f"/patients/?search={CPF}", {"full_name": PATIENT_NAME, "chief_complaint": COMPLAINT})
    request.META["HTTP_REFERER"] = f"http://127.0.0.1/patients/?search={PATIENT_NAME}"

    text, html = _report_for(request, _failing_patient_view)

    _assert_no_health_data(text)
    _assert_no_health_data(html)
    assert "search" in text


def test_it_hides_the_row_values_of_database_errors(settings):
    request = RequestFactory().post("/patients/new/", {"cpf": CPF})

    text, html = _report_for(request, _failing_unique_cpf_view)

    _assert_no_health_data(text)
    _assert_no_health_data(html)
    assert "uniq_patient_cpf_per_clinic" in text


@pytest.mark.urls(__name__)
def test_it_serves_a_technical_500_page_without_post_values_even_with_debug_on(client, settings):
    settings.DEBUG = True  # a production misconfiguration: the page must still be clean
    client.raise_request_exception = False

    response = client.post("/boom/", {"full_name": PATIENT_NAME, "cpf": CPF, "chief_complaint": COMPLAINT})

    assert response.status_code == 500
    body = response.content.decode()
    assert "ValueError" in body  # it is Django's technical page, not a plain error page
    _assert_no_health_data(body)


def test_it_keeps_database_row_values_out_of_the_logs():
    import io
    import logging

    from medcall.error_reporting import DatabaseDetailLogFilter

    # The console handler configured by settings.LOGGING carries the filter...
    root_filters = [f for handler in logging.getLogger().handlers for f in handler.filters]
    assert any(isinstance(f, DatabaseDetailLogFilter) for f in root_filters)
    # ...and a 500 logged the way django.request logs it comes out without the row values.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(DatabaseDetailLogFilter())
    logger = logging.getLogger("medcall.tests.error_reporting")
    logger.addHandler(handler)
    try:
        try:
            _failing_unique_cpf_view(RequestFactory().post("/patients/new/"))
        except IntegrityError:
            logger.exception("Internal Server Error: %s", "/patients/new/")
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert "Internal Server Error: /patients/new/" in output
    assert "uniq_patient_cpf_per_clinic" in output
    assert CPF not in output
