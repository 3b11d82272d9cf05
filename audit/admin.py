from django.contrib import admin

from .models import AuditEvent
from .services import AuditContext, audit_record_list


class ListAuditAdminMixin:
    """Audits an admin change list of patient data: which rows the page showed (`list_audit_action`)."""

    list_audit_action = ""

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and response.status_code == 200:
            # Evaluating the page here fills its cache: rendering reuses the same rows, no second query.
            audit_record_list(
                ctx=AuditContext.from_request(request), action=self.list_audit_action, model=self.model,
                records=cl.result_list, clinic=None, via="admin",
            )
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only evidence (LGPD)."""

    list_display = ("created_at", "actor_label", "action", "target_type", "target_id", "clinic", "ip")
    list_filter = ("action", "target_type", "clinic", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "action", "target_type", "target_id", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("clinic",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
