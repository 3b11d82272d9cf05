"""Admin: AI usage (read-only) with totals per day and month, per doctor, and a cost chart drawn as
inline SVG (no CDN, no JavaScript). Suggestions and notes are health data: no admin for them."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Sum
from django.utils import timezone

from .models import AIUsage
from .selectors import ai_usage_series, period_start

CHART_W, CHART_H = 600, 160


def chart_bars(series: list[dict]) -> list[dict]:
    """Bar geometry for the SVG chart: x, y, width, height per bucket, scaled to the largest cost."""
    peak = max((Decimal(str(p["cost"])) for p in series), default=Decimal(0)) or Decimal(1)
    width = CHART_W / max(len(series), 1)
    bars = []
    for i, p in enumerate(series):
        height = float(Decimal(str(p["cost"])) / peak) * (CHART_H - 20)
        bars.append({"x": round(i * width + 1, 1), "y": round(CHART_H - height, 1), "w": round(max(width - 2, 1), 1),
                     "h": round(height, 1), "label": p["bucket"], "cost": p["cost"], "calls": p["calls"]})
    return bars


@admin.register(AIUsage)
class AIUsageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "engine", "model", "ok", "doctor", "audio_seconds", "tokens_in",
                    "tokens_out", "compute_seconds", "cost")
    list_filter = ("kind", "engine", "ok", "created_at", "doctor")
    date_hierarchy = "created_at"
    list_select_related = ("doctor__user",)
    change_list_template = "admin/assist/aiusage/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        try:
            qs = response.context_data["cl"].queryset  # honours the admin's filters
        except (AttributeError, KeyError):
            return response
        now = timezone.now()

        def totals(rows):
            agg = rows.aggregate(calls=Count("id"), cost=Sum("cost"), audio=Sum("audio_seconds"),
                                 tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
                                 compute=Sum("compute_seconds"))
            return {k: v or 0 for k, v in agg.items()}

        per_doctor = (qs.filter(created_at__gte=period_start("month", now))
                      .values("doctor__user__username", "doctor__user__first_name", "doctor__user__last_name")
                      .annotate(calls=Count("id"), cost=Sum("cost"), audio=Sum("audio_seconds"),
                                tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
                                compute=Sum("compute_seconds"))
                      .order_by("-cost"))
        response.context_data.update(
            usage_currency=settings.AI_PRICES_CURRENCY,
            usage_today=totals(qs.filter(created_at__gte=period_start("day", now))),
            usage_month=totals(qs.filter(created_at__gte=period_start("month", now))),
            usage_per_doctor=per_doctor,
            usage_daily_bars=chart_bars(ai_usage_series(qs=qs, period="day", buckets=30, now=now)),
            usage_monthly=ai_usage_series(qs=qs, period="month", buckets=12, now=now),
            chart_w=CHART_W, chart_h=CHART_H,
        )
        return response
