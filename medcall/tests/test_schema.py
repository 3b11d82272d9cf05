"""The whole OpenAPI schema generates without warnings and lists every v1 path."""
from io import StringIO

from django.core.management import call_command


def test_it_generates_the_full_schema_without_warnings(db, tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out), stdout=StringIO(), stderr=StringIO())
    text = out.read_text()
    for path in (
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/consultations/",
        "/api/v1/consultations/{id}/",
        "/api/v1/consultations/{id}/transition/",
        "/api/v1/consultations/{id}/link/",
        "/api/v1/consultations/{id}/consent/",
        "/api/v1/consultations/{id}/transcript/",
        "/api/v1/consultations/{id}/suggestions/",
        "/api/v1/consultations/{id}/note/",
        "/api/v1/ai-usage/",
    ):
        assert f"  {path}:" in text, path
