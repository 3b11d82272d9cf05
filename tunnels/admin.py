"""Model admin for runtime state. Rows are written by probes and the supervisor, so they are
read-only here; the "Status dos serviços" page with actions is a separate admin view."""
from django.contrib import admin

from .models import PublicEndpoint, ServiceStatus


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ServiceStatus)
class ServiceStatusAdmin(_ReadOnlyAdmin):
    list_display = ("name", "state", "message", "checked_at", "last_ok_at", "changed_at")
    list_filter = ("state", "name")
    search_fields = ("name", "message")
    readonly_fields = ("name", "state", "message", "details", "checked_at", "last_ok_at", "changed_at")

    def changelist_view(self, request, extra_context=None):
        # The list lives on the "Status dos serviços" page, with its actions and live updates.
        from django.shortcuts import redirect

        return redirect("admin-service-status")


@admin.register(PublicEndpoint)
class PublicEndpointAdmin(_ReadOnlyAdmin):
    list_display = ("provider", "public_url", "state", "verified_at", "updated_at")
    readonly_fields = ("provider", "public_url", "state", "message", "instance_id", "verified_at", "updated_at")
