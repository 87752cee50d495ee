"""What a call cost, from the prices genai-prices ships (no network at run time) and the
adjustments it lacks (shared/anthropic_prices.py).

genai-prices applies the long-context tier (over 200k input tokens, cache reads and writes
included), the 1h/5m cache write rates, cache reads, web searches and, through `price_context`,
fast mode (`usage.speed == "fast"`). The adjustments add US-only inference and the tiers it lacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any

import genai_prices
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelInfo, ModelPrice, PriceVariant, StartDateConstraint, TieredPrices

from shared.anthropic_prices import (
    ADJUSTMENTS_CHECKED,
    PRICE_OVERRIDES,
    added_model,
    earlier_prices,
    geo_multiplier,
)
from shared.usage import Usage

PRICE_SNAPSHOT = f"genai-prices {genai_prices.__version__}"
# What a record keeps of the prices it was priced with: the library's data and our adjustments.
PRICE_VERSION = f"{PRICE_SNAPSHOT}; adjustments {ADJUSTMENTS_CHECKED}"
_PROVIDER = "anthropic"
_MICRO_CENTS = Decimal("0.000001")
_FAST = {"speed": "fast"}


@dataclass(frozen=True)
class ModelPricing:
    """The prices that apply to one call's model at one time, in one speed and inference geography."""

    model_id: str  # genai-prices' id: `claude-sonnet-4-0` for `claude-sonnet-4-20250514`
    name: str | None
    prices: ModelPrice  # USD per million tokens (web searches: per thousand)
    overridden: bool  # the prices are shared/anthropic_prices.py's, not genai-prices'
    geo_multiplier: Decimal  # on token prices


def _model_info(model: str) -> tuple[ModelInfo, bool] | None:
    """genai-prices' entry for `model`, else ours (shared/anthropic_prices.py ADDED_MODELS); with
    whether it is ours."""
    try:
        _, info = get_snapshot().find_provider_model(model, None, _PROVIDER, None)
    except LookupError:
        added = added_model(model)
        return None if added is None else (added, True)
    return info, False


def _fast_variant(info: ModelInfo) -> PriceVariant | None:
    return next((variant for variant in info.price_variants or () if variant.when == _FAST), None)


def model_pricing(
    model: str, at: dt.datetime, speed: str | None = None, inference_geo: str | None = None
) -> ModelPricing | None:
    """None when the model is unknown, or when it ran in fast mode and no fast price is known (a
    standard price would understate it severalfold: better an unknown cost than a wrong one)."""
    found = _model_info(model)
    if found is None:
        return None
    info, added = found
    fast = speed == "fast"
    if fast and _fast_variant(info) is None:
        return None
    override = PRICE_OVERRIDES.get(info.id)
    if override is None and not fast:
        override = earlier_prices(info.id, at)
    prices = override if override is not None else info.get_prices(at, _FAST if fast else None)
    geo = geo_multiplier(info.id, inference_geo)
    return ModelPricing(info.id, info.name, prices, added or override is not None, geo)


def tier_starts(pricing: ModelPricing) -> tuple[int, ...]:
    """The prompt sizes (input tokens, cache reads and writes included) above which the model's
    token prices change: 200,000 for the long-context tier, 100,000 for Claude Haiku 5.5's."""
    starts = {
        tier.start
        for value in vars(pricing.prices).values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    }
    return tuple(sorted(starts))


def price_usage(usage: Usage, requested_at: dt.datetime) -> Decimal | None:
    """Cost in US cents (6 decimals), or None when the price is unknown (see `model_pricing`)."""
    if not usage.model:
        return None
    pricing = model_pricing(usage.model, requested_at, usage.speed, usage.inference_geo)
    if pricing is None:
        return None
    tokens = genai_prices.Usage(
        # genai-prices counts every prompt token as input, and prices the cached ones from it.
        input_tokens=usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_write_5m_tokens=usage.cache_creation_5m_input_tokens,
        cache_write_1h_tokens=usage.cache_creation_1h_input_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        output_tokens=usage.output_tokens,
    )
    dollars = pricing.prices.calc_price(tokens)["total_price"] * pricing.geo_multiplier
    if usage.web_search_requests:
        searches = genai_prices.Usage(web_searches=usage.web_search_requests)
        dollars += pricing.prices.calc_price(searches)["total_price"]
    return (dollars * 100).quantize(_MICRO_CENTS)


def price_without_cache(usage: Usage, requested_at: dt.datetime) -> Decimal | None:
    """What the same call would have cost with no prompt caching: every cached token billed as input."""
    cached = usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    plain = replace(
        usage,
        input_tokens=usage.input_tokens + cached,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        cache_creation_5m_input_tokens=0,
        cache_creation_1h_input_tokens=0,
    )
    return price_usage(plain, requested_at)


def _price_view(value: Decimal | TieredPrices) -> dict[str, Any]:
    if isinstance(value, TieredPrices):
        tiers = [{"above_input_tokens": tier.start, "usd": str(tier.price)} for tier in value.tiers]
        return {"usd": str(value.base), "tiers": tiers}
    return {"usd": str(value), "tiers": []}


def _prices_view(prices: ModelPrice) -> dict[str, dict[str, Any]]:
    """`{price key: {usd, tiers}}`: `input_mtok` is USD per million input tokens, and so on."""
    return {
        key: _price_view(value)
        for key, value in vars(prices).items()
        if not key.startswith("_") and value is not None
    }


@cache
def price_data_date() -> str | None:
    """The newest date from which a price in genai-prices' Anthropic data applies: the data is at
    least that recent (the package itself carries no release date)."""
    dates = []
    for info in get_snapshot().find_provider(None, _PROVIDER, None).models:
        dated = [*(info.prices if isinstance(info.prices, list) else ()), *(info.price_variants or ())]
        constraints = [price.constraint for price in dated]
        dates += [found.start_date for found in constraints if isinstance(found, StartDateConstraint)]
    return max(dates).isoformat() if dates else None


def price_sheet(model: str, at: dt.datetime) -> dict[str, Any] | None:
    """The prices, tiers and multipliers this code applies to `model` at `at`; None if unknown."""
    standard = model_pricing(model, at)
    if standard is None:
        return None
    fast = model_pricing(model, at, speed="fast")
    us_only = model_pricing(model, at, inference_geo="us")
    return {
        "model": model,
        "model_id": standard.model_id,
        "name": standard.name,
        "data_version": PRICE_VERSION,
        "data_date": price_data_date(),
        "adjustments_checked": ADJUSTMENTS_CHECKED,
        "source": "codecosts override" if standard.overridden else "genai-prices",
        "prices": _prices_view(standard.prices),
        "fast_prices": None if fast is None else _prices_view(fast.prices),
        "multipliers": {"us_only_inference": str(us_only.geo_multiplier) if us_only else "1"},
    }
