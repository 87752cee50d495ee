"""What Anthropic charges that the genai-prices data does not model: the one place for it.

Every entry names its source, Anthropic's pricing page
(https://platform.claude.com/docs/en/about-claude/pricing) or a page it links, and the day it was
read; ADJUSTMENTS_CHECKED is the latest of those days, and so the version of this set that records
name. Each price override and added model has a test (tests/pricing/test_price_adjustments.py) that
fails once genai-prices carries the same prices itself, so ours can be dropped instead of silently
shadowing newer data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from genai_prices.types import (
    ClauseEquals,
    ClauseOr,
    ClauseRegex,
    ModelInfo,
    ModelPrice,
    Tier,
    TieredPrices,
)

ADJUSTMENTS_CHECKED: Final = "2026-12-01"

# US-only inference (`usage.inference_geo == "us"`) costs 1.1x on every token price (input, output,
# cache writes and reads) of Claude Opus 4.6 and every later model; server tools (web search) are
# not tokens and keep their price. Models released before Opus 4.6 reject the parameter and keep
# their prices. Source: https://platform.claude.com/docs/en/build-with-claude/data-residency and
# the pricing page's data residency section (read 2026-11-30).
US_ONLY_GEO: Final = "us"
US_ONLY_MULTIPLIER: Final = Decimal("1.1")
US_ONLY_EXEMPT_MODELS: Final = frozenset(  # genai-prices model ids, released before Opus 4.6
    {
        "claude-v1",
        "claude-2",
        "claude-3-haiku",
        "claude-3-sonnet",
        "claude-3-opus-latest",
        "claude-3-5-haiku-latest",
        "claude-3-5-sonnet",
        "claude-3-7-sonnet-latest",
        "claude-opus-4-0",
        "claude-opus-4-1",
        "claude-opus-4-5",
        "claude-sonnet-4-0",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    }
)

LONG_CONTEXT_START: Final = 200_000  # input tokens (with cache reads and writes) above which a tier applies


def _long_context(base: str, above: str) -> TieredPrices:
    return TieredPrices(base=Decimal(base), tiers=[Tier(start=LONG_CONTEXT_START, price=Decimal(above))])


# Complete price sets replacing genai-prices' for a model id (per million tokens, web search per
# thousand). Claude Sonnet 4 (`claude-sonnet-4-0`, `claude-sonnet-4-20250514`): over 200k input
# tokens the whole request costs $6 input / $22.50 output, and the prompt-caching multipliers apply
# on top (5m writes 1.25x, 1h writes 2x, reads 0.1x of that input price). genai-prices 0.2.3 has
# only the flat rates, which prices such a call at half its input cost.
# Source: the pricing page's "Long context pricing" section (read 2026-11-30).
PRICE_OVERRIDES: Final[dict[str, ModelPrice]] = {
    "claude-sonnet-4-0": ModelPrice(
        input_mtok=_long_context("3", "6"),
        cache_write_mtok=_long_context("3.75", "7.5"),
        cache_write_1h_mtok=_long_context("6", "12"),
        cache_read_mtok=_long_context("0.3", "0.6"),
        output_mtok=_long_context("15", "22.5"),
        web_searches_kcount=Decimal("10"),
    ),
}


# Prices a model had until a change that genai-prices records without its date (it carries only the
# prices after it): the first moment of the new prices, and the prices before it. Claude Sonnet 5.5's
# cache reads were cut from $0.20 to $0.10 per million tokens on 2026-10-07; every other price of it
# stayed ($2 input, $2.50 5-minute and $4 1-hour writes, $10 output). Sources: Anthropic's Sonnet 5.5
# model page as published before the cut (cache reads $0.20), the pricing page since ($0.10, as
# genai-prices 0.2.3 has it), and the date as price trackers that re-read the pricing page recorded it
# (read 2026-12-01).
EARLIER_PRICES: Final[dict[str, tuple[datetime, ModelPrice]]] = {
    "claude-sonnet-5-5": (
        datetime(2026, 10, 7, tzinfo=UTC),
        ModelPrice(
            input_mtok=Decimal("2"),
            cache_write_mtok=Decimal("2.5"),
            cache_write_1h_mtok=Decimal("4"),
            cache_read_mtok=Decimal("0.2"),
            output_mtok=Decimal("10"),
            web_searches_kcount=Decimal("10"),
        ),
    ),
}


def earlier_prices(model_id: str, at: datetime) -> ModelPrice | None:
    """The prices `model_id` (genai-prices' id) had at `at`, when that was before a change listed in
    EARLIER_PRICES; None otherwise."""
    earlier = EARLIER_PRICES.get(model_id)
    return earlier[1] if earlier is not None and at < earlier[0] else None


def _priced_like_fable(version: str, name: str, cache_read: str) -> ModelInfo:
    """A Claude Mythos model: its id and its dated forms (`claude-mythos-5-20260609`), at the prices
    the pricing page gives it and its Claude Fable twin alike."""
    model_id = f"claude-mythos-{version}"
    return ModelInfo(
        id=model_id,
        name=name,
        match=ClauseOr(or_=[ClauseEquals(equals=model_id), ClauseRegex(regex=rf"^{model_id}-\d{{8}}$")]),
        prices=ModelPrice(
            input_mtok=Decimal("10"),
            cache_write_mtok=Decimal("12.5"),
            cache_write_1h_mtok=Decimal("20"),
            cache_read_mtok=Decimal(cache_read),
            output_mtok=Decimal("50"),
            web_searches_kcount=Decimal("10"),
        ),
    )


# Models the pricing page lists that genai-prices 0.2.3 does not know at all (their calls would
# otherwise be recorded with an unknown cost): Claude Mythos 5 and 5.1, the limited-availability
# twins of Claude Fable 5 and 5.1 (`claude-mythos-5`, `claude-mythos-5-1`, both in the Anthropic
# SDK's model list): $10 input, $12.50 5-minute writes, $20 1-hour writes, $1 (5.1: $0.25) cache
# reads and $50 output per million tokens; web search, $10 per thousand, is every model's. Source:
# the pricing page's model table (read 2026-12-01). genai-prices' own entry wins once it has one.
ADDED_MODELS: Final[tuple[ModelInfo, ...]] = (
    _priced_like_fable("5", "Claude Mythos 5", cache_read="1"),
    _priced_like_fable("5-1", "Claude Mythos 5.1", cache_read="0.25"),
)


def added_model(model: str) -> ModelInfo | None:
    """The entry of ADDED_MODELS that `model` names, if any."""
    return next((info for info in ADDED_MODELS if info.is_match(model)), None)


# A request that ends with `stop_reason: "refusal"` before Claude generated any output (no content
# block) is not billed on the Claude API since 2026-06-02, whatever tokens its usage reports; a
# refusal after some output is billed as usual. Source: Anthropic's release notes of 2026-06-02
# (https://platform.claude.com/docs/en/release-notes/overview), which link the streaming refusals
# page (read 2026-12-01).
UNBILLED_REFUSALS_SINCE: Final = datetime(2026, 6, 2, tzinfo=UTC)


def unbilled_refusal(stop_reason: str | None, generated_output: bool | None, at: datetime) -> bool:
    """Whether a call is one Anthropic does not bill: refused before any output, on or after the
    change. Not knowing whether output was generated counts as output (billed)."""
    return stop_reason == "refusal" and generated_output is False and at >= UNBILLED_REFUSALS_SINCE


def geo_multiplier(model_id: str, inference_geo: str | None) -> Decimal:
    """What the token prices of a call on `model_id` (a genai-prices id) are multiplied by."""
    if inference_geo == US_ONLY_GEO and model_id not in US_ONLY_EXEMPT_MODELS:
        return US_ONLY_MULTIPLIER
    return Decimal(1)
