"""Error reports (500 e-mails, the DEBUG technical page) without health data (LGPD).

Django's SafeExceptionReporterFilter only hides what views mark as sensitive, and only when
DEBUG is False. In MedCall almost every form and frame carries patient data (names, CPF,
complaints, notes), so this filter hides every POST value and every frame local, always —
even if DEBUG is switched on by mistake in production. The reporter additionally hides query
string values (patient search by name or CPF travels in GET) and the DETAIL line databases add
to integrity errors ("Key (cpf)=(…) already exists"). What remains is enough to debug: the
exception type, the code path, parameter names, the user and the request path.
"""
import logging
import re

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Postgres appends "DETAIL:  Key (clinic_id, cpf)=(1, 52998224725) already exists." to constraint errors.
_DB_DETAIL_LINE = re.compile(r"^\s*DETAIL:.*$", re.MULTILINE)
_REQUEST_META_WITH_DATA = {"QUERY_STRING", "HTTP_REFERER", "RAW_URI", "REQUEST_URI"}


class HealthDataExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hides all POST values, all frame locals and query-bearing request headers, whatever DEBUG says."""

    def is_active(self, request):
        return True

    def get_post_parameters(self, request):
        if request is None:
            return {}
        cleansed = request.POST.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        cleansed = multivaluedict.copy()
        for key in cleansed:
            cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in _REQUEST_META_WITH_DATA & meta.keys():
            meta[key] = self.cleansed_substitute
        return meta


def redact_exception_text(text: str) -> str:
    """The exception message without the database's DETAIL line, which quotes row values."""
    return _DB_DETAIL_LINE.sub("DETAIL: ********************", text)


class HealthDataExceptionReporter(ExceptionReporter):
    """ExceptionReporter whose query values, file names and database details are hidden too."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        substitute = SafeExceptionReporterFilter.cleansed_substitute
        if self.request is not None:
            data["request_GET_items"] = [(key, substitute) for key in self.request.GET]
            data["request_FILES_items"] = [(key, substitute) for key in self.request.FILES]
            data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0]
        if "exception_value" in data:
            data["exception_value"] = redact_exception_text(data["exception_value"])
        for frame in data.get("frames", []):
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = redact_exception_text(str(frame["exc_cause"]))
        return data


class DatabaseDetailLogFilter(logging.Filter):
    """Removes the database's DETAIL line (row values, e.g. a CPF) from log messages and tracebacks.

    `django.request` logs every 500 with its traceback; a constraint error's message would otherwise
    copy patient data into the logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "DETAIL:" in message:
            record.msg, record.args = redact_exception_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_exception_text(record.exc_text)
        return True
