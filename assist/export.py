"""The consultation note as plain text and as PDF (fpdf2, pure Python: no system libraries)."""
from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .models import ConsultationNote


def _section_titles() -> list[tuple[str, str]]:
    return [("subjective", _("Subjective")), ("objective", _("Objective")), ("assessment", _("Assessment")),
            ("plan", _("Plan"))]


def _header_lines(note: ConsultationNote) -> list[str]:
    c = note.consultation
    doctor = c.doctor
    crm = f" — CRM {doctor.crm}/{doctor.crm_uf}" if doctor.crm else ""
    when = date_format(timezone.localtime(c.started_at or c.scheduled_for), "SHORT_DATETIME_FORMAT")
    status = note.get_status_display()
    return [
        _("Consultation note"),
        _("Patient") + f": {c.patient.full_name}",
        _("Doctor") + f": {doctor.user.get_full_name() or doctor.user.username}{crm}",
        _("Date") + f": {when}",
        _("Version") + f" {note.version} · {status}",
    ]


def note_as_text(note: ConsultationNote) -> str:
    lines = _header_lines(note)
    lines.append("")
    for field, title in _section_titles():
        lines += [title.upper(), getattr(note, field).strip() or "—", ""]
    return "\n".join(lines).rstrip() + "\n"


# The PDF core fonts cover Latin-1 (all Portuguese letters); typographic marks outside it are mapped.
_LATIN1 = str.maketrans({"—": "-", "–": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "…": "...", "·": "-",
                         "•": "-", "→": "->"})


def _latin1(text: str) -> str:
    return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


def note_as_pdf(note: ConsultationNote) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(_("Consultation note")))
    pdf.set_creator("MedCall")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    header = _header_lines(note)
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, _latin1(header[0]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in header[1:]:
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for field, title in _section_titles():
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, _latin1(getattr(note, field).strip() or "-"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())
