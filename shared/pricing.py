"""What a call cost, from the prices genai-prices ships (no network at run time)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import genai_prices

from shared.usage import Usage

PRICE_SNAPSHOT = f"genai-prices {genai_prices.__version__}"
_MICRO_CENTS = Decimal("0.000001")


def price_without_cache(usage: Usage, requested_at: datetime) -> Decimal | None:
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


def price_usage(usage: Usage, requested_at: datetime) -> Decimal | None:
    """Cost in US cents (6 decimals), or None when the model is unknown to the price snapshot.

    genai-prices applies the long-context tier (over 200k input tokens), the 1h/5m cache write
    rates, cache reads and web searches from Anthropic's own usage fields.
    """
    if not usage.model:
        return None
    reply = {
        "model": usage.model,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": usage.cache_creation_5m_input_tokens,
                "ephemeral_1h_input_tokens": usage.cache_creation_1h_input_tokens,
            },
            "server_tool_use": {"web_search_requests": usage.web_search_requests},
        },
    }
    try:
        extracted = genai_prices.extract_usage(reply, provider_id="anthropic")
        price = extracted.calc_price(genai_request_timestamp=requested_at)
    except (LookupError, ValueError):
        return None
    return (price.total_price * 100).quantize(_MICRO_CENTS)
