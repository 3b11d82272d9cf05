"""The one place that writes audit events.

Call `audit_record()` inside the same `transaction.atomic()` block as the change it describes, so
the change and its audit row commit or roll back together.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from .models import AuditEvent

MASK = "***"

# Keys whose values never go into the audit trail: secrets, and personal/health data (LGPD).
# The trail records *that* a field changed, not what it now says.
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "token",
        "api_token",
        "secret",
        "key",
        "authorization",
        "authtoken",
        "cpf",
        "full_name",
        "name",
        "birth_date",
        "phone",
        "email",
        "notes",
        "chief_complaint",
        "address",
        "text",
        "transcript",
    }
)


def _is_sensitive(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or any(s in k for s in ("password", "secret", "token"))


def mask_extra(data: Any) -> Any:
    """Recursively replace values under sensitive keys with a mask."""
    if isinstance(data, dict):
        return {k: (MASK if _is_sensitive(str(k)) else mask_extra(v)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_extra(v) for v in data]
    return data


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and from where; built once per request (or per command/task)."""

    user: Any = None
    ip: str | None = None
    user_agent: str = ""
    label: str = ""  # who acted when there is no user: "system:<component>", "patient-link"

    @classmethod
    def from_request(cls, request) -> AuditContext:
        meta = getattr(request, "META", {}) or {}
        ip = meta.get("REMOTE_ADDR") or None
        return cls(user=getattr(request, "user", None), ip=ip, user_agent=(meta.get("HTTP_USER_AGENT") or "")[:300])

    @classmethod
    def from_scope(cls, scope) -> AuditContext:
        """For Channels consumers."""
        client = scope.get("client") or (None, None)
        headers = dict(scope.get("headers") or [])
        ua = headers.get(b"user-agent", b"").decode("latin-1")[:300]
        return cls(user=scope.get("user"), ip=client[0], user_agent=ua)

    @classmethod
    def system(cls, component: str = "system") -> AuditContext:
        return cls(label=f"system:{component}")


def audit_record(
    *,
    ctx: AuditContext,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    clinic=None,
    clinic_id: int | None = None,
    extra: dict | None = None,
) -> AuditEvent:
    """Append one audit event. `extra` is masked before it is stored."""
    user = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
    if clinic is not None:
        clinic_id = clinic.pk
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        if clinic_id is None:
            clinic_id = _clinic_id_of(target)
    return AuditEvent.objects.create(
        actor=user,
        actor_label=(user.get_username() if user else ctx.label)[:150],
        clinic_id=clinic_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id != "" else "",
        extra=mask_extra(extra or {}),
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )


def audit_record_list(
    *, ctx: AuditContext, action: str, model: type[models.Model], records, clinic, via: str, extra: dict | None = None
) -> list[AuditEvent]:
    """Events for a page of records shown together (a list, search results, the dashboard).

    They name the ids that were on screen, so "who saw patient X" also finds list pages; never the
    search text (it may be a name or a CPF). An empty page read nothing and records nothing. With
    `clinic=None` (a superuser's admin list across clinics) there is one event per clinic shown.
    """
    by_clinic: dict[int | None, list] = {}
    for r in records:
        key = clinic.pk if clinic is not None else _clinic_id_of(r)
        by_clinic.setdefault(key, []).append(r.pk)
    return [
        audit_record(
            ctx=ctx,
            action=action,
            target_type=model._meta.label_lower,
            clinic_id=clinic_id,
            extra={"via": via, "count": len(ids), "ids": ids, **(extra or {})},
        )
        for clinic_id, ids in by_clinic.items()
    ]


def _clinic_id_of(obj) -> int | None:
    """The clinic a record belongs to, from foreign-key ids already loaded (no extra query)."""
    for attr in ("clinic_id", "patient.clinic_id", "consultation.clinic_id"):
        cur = obj
        try:
            for part in attr.split("."):
                cur = getattr(cur, part)
        except AttributeError:
            continue
        if cur is not None:
            return cur
    return None
