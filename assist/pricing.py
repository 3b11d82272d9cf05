"""Estimated cost of one AI call from the AI_PRICES table in settings.

AI_PRICES = {engine: {model or "*": {"audio_minute": x, "tokens_in_1k": y, "tokens_out_1k": z}}};
a missing engine or price costs 0 (local engines), never an error: accounting must not break a call.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def price_for(engine: str, model: str = "") -> dict[str, float]:
    table = (getattr(settings, "AI_PRICES", None) or {}).get(engine) or {}
    return table.get(model) or table.get("*") or {}


def estimate_cost(*, engine: str, model: str = "", audio_seconds: float = 0, tokens_in: int = 0,
                  tokens_out: int = 0) -> Decimal:
    price = price_for(engine, model)
    cost = (
        Decimal(str(price.get("audio_minute", 0))) * Decimal(str(audio_seconds)) / 60
        + Decimal(str(price.get("tokens_in_1k", 0))) * tokens_in / 1000
        + Decimal(str(price.get("tokens_out_1k", 0))) * tokens_out / 1000
    )
    return cost.quantize(Decimal("0.000001"))
