from django.contrib import admin

from .models import AuditEvent


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
