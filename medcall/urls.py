from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from consultations import link_views
from consultations.webhooks import livekit_webhook
from tunnels.admin_views import admin_urls as tunnels_admin_urls
from tunnels.lk_proxy import lk_http_proxy

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/consultations/<int:pk>/link/", link_views.api_link_generate, name="api-consultation-link"),
    path("api/v1/", include("medcall.api_urls")),
    # Patient entry link; tampered → 404, expired/revoked → 410.
    path("p/<str:token>", link_views.patient_landing, name="patient-landing"),
    # "Gerar link" panel on the consultation page (htmx fragments).
    path("consultations/<int:pk>/link/", link_views.link_generate, name="consultation-link-generate"),
    path("consultations/<int:pk>/link/panel", link_views.link_panel, name="consultation-link-panel"),
    path("consultations/<int:pk>/link/email", link_views.link_email, name="consultation-link-email"),
    # LiveKit signalling on the same origin (WebSocket part in medcall/routing.py).
    re_path(r"^lk/(?P<path>rtc.*)$", lk_http_proxy, name="livekit-http-proxy"),
    *tunnels_admin_urls(),
    path("admin/", admin.site.urls),
    path("livekit/webhook", livekit_webhook, name="livekit-webhook"),  # CSRF-exempt, signed (issue 4)
    path("", include("medcall.web_urls")),
]
