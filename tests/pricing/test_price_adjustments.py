"""The prices genai-prices lacks (shared/anthropic_prices.py), checked against Anthropic's published
prices by hand, and a guard that tells when the library has caught up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import genai_prices
import pytest
from genai_prices.types import TieredPrices

from shared.anthropic_prices import (
    ADDED_MODELS,
    EARLIER_PRICES,
    PRICE_OVERRIDES,
    UNBILLED_REFUSALS_SINCE,
    unbilled_refusal,
)
from shared.billed import BilledUsage, TokenCounts
from shared.cache_economics import unread_1h_cache_writes
from shared.pricing import price_sheet, price_usage
from shared.reconciliation import LONG_CONTEXT, price_billed
from shared.usage import Usage
from shared.usage_record import Cents
from tests.api.conftest import usage_record

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_each_override_is_still_missing_from_genai_prices() -> None:
    # Fails once genai-prices prices the model's long context itself: then drop the override.
    for model_id in PRICE_OVERRIDES:
        usage = genai_prices.Usage(input_tokens=250_000)
        price = genai_prices.calc_price(usage, model_id, provider_id="anthropic", genai_request_timestamp=AT)
        assert not isinstance(price.model_price.input_mtok, TieredPrices), f"genai-prices tiers {model_id}"


def test_sonnet_4_over_200k_costs_the_long_context_rates_cache_included() -> None:
    usage = Usage(
        model="claude-sonnet-4-20250514",
        input_tokens=10_000,
        cache_read_input_tokens=180_000,
        cache_creation_input_tokens=20_000,
        cache_creation_1h_input_tokens=15_000,
        cache_creation_5m_input_tokens=5_000,
        output_tokens=2_000,
    )
    # 210,000 prompt tokens > 200k: $6 input, $7.50 5m writes, $12 1h writes, $0.60 reads, $22.50
    # output per MTok: 60,000 + 37,500 + 180,000 + 108,000 + 45,000 = 430,500 micro-dollars.
    assert price_usage(usage, AT) == Decimal("43.050000")
    # The same call at 200k exactly stays at the base rates.
    assert price_usage(Usage(model="claude-sonnet-4-0", input_tokens=200_000), AT) == Decimal("60.000000")


def test_unread_1h_writes_are_priced_at_the_tier_of_their_call() -> None:
    # A Sonnet 4.5 call with 190k cache reads writes 20k 1-hour tokens nobody reads: 210k prompt
    # tokens, so those writes cost $12 instead of $6 input: 20,000 x ($12 - $6) = 12 cents over input.
    record = usage_record(
        "user_a",
        "EP1",
        AT,
        model="claude-sonnet-4-5-20250929",
        input_tokens=0,
        cache_read_input_tokens=190_000,
        cache_creation_input_tokens=20_000,
        cache_creation_1h_input_tokens=20_000,
        output_tokens=10,
    )
    unread = unread_1h_cache_writes([record], now=AT + timedelta(hours=2))
    assert unread.tokens == 20_000
    assert unread.extra_cents == Cents(Decimal("12.000000"))


def test_the_price_sheet_shows_what_the_code_applies() -> None:
    sheet = price_sheet("claude-sonnet-4-20250514", AT)
    assert sheet is not None
    assert sheet["model_id"] == "claude-sonnet-4-0" and sheet["source"] == "codecosts override"
    assert sheet["prices"]["output_mtok"] == {
        "usd": "15",
        "tiers": [{"above_input_tokens": 200_000, "usd": "22.5"}],
    }
    assert sheet["fast_prices"] is None
    assert sheet["multipliers"] == {"us_only_inference": "1"}  # released before Opus 4.6
    assert sheet["data_version"].startswith(f"genai-prices {genai_prices.__version__}")

    opus = price_sheet("claude-opus-5", AT)
    assert opus is not None and opus["source"] == "genai-prices"
    assert opus["fast_prices"]["input_mtok"] == {"usd": "10", "tiers": []}
    assert opus["multipliers"] == {"us_only_inference": "1.1"}
    assert price_sheet("claude-imaginary-9", AT) is None


def test_billed_long_context_tokens_cost_the_published_long_context_rates() -> None:
    # The bill check prices the usage report's "200k-1M" rows per token kind; by hand from the
    # pricing page: $6 input, $7.50 5m writes, $12 1h writes, $0.60 reads, $22.50 output per MTok.
    tokens = TokenCounts(
        uncached_input_tokens=1_000,
        cache_creation_5m_input_tokens=1_000,
        cache_creation_1h_input_tokens=1_000,
        cache_read_input_tokens=1_000,
        output_tokens=1_000,
    )
    # 6,000 + 7,500 + 12,000 + 600 + 22,500 = 48,600 micro-dollars
    for model in ("claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"):  # genai-prices; override
        row = BilledUsage("2026-11-20", None, model, LONG_CONTEXT, tokens)
        assert price_billed(row) == Decimal("4.860000"), model
        # The same tokens under 200k: $3, $3.75, $6, $0.30, $15 per MTok = 28,050 micro-dollars
        assert price_billed(replace(row, context_window="0-200k")) == Decimal("2.805000"), model


def test_each_added_model_is_still_missing_from_genai_prices() -> None:
    # Fails once genai-prices knows the model itself: then drop it from ADDED_MODELS.
    for info in ADDED_MODELS:
        with pytest.raises(LookupError):
            genai_prices.calc_price(genai_prices.Usage(input_tokens=1), info.id, provider_id="anthropic")


# One call of each token kind, with two web searches: by hand from the pricing page's model table,
# 1,000 input x $10 + 1,000 5m writes x $12.50 + 2,000 1h writes x $20 + 10,000 reads x $1 (5.1:
# $0.25) + 500 output x $50 per MTok, and 2 searches x $10 per thousand:
# 10,000 + 12,500 + 40,000 + 10,000 (2,500) + 25,000 + 20,000 micro-dollars.
MYTHOS_CALL = Usage(
    input_tokens=1_000,
    cache_creation_input_tokens=3_000,
    cache_creation_5m_input_tokens=1_000,
    cache_creation_1h_input_tokens=2_000,
    cache_read_input_tokens=10_000,
    output_tokens=500,
    server_tool_use={"web_search_requests": 2},
)


@pytest.mark.parametrize(
    ("model", "cents", "twin"),
    [
        ("claude-mythos-5", "11.750000", "claude-fable-5"),
        ("claude-mythos-5-20260609", "11.750000", "claude-fable-5"),
        ("claude-mythos-5-1", "11.000000", "claude-fable-5-1"),
    ],
)
def test_mythos_5_and_5_1_cost_what_the_pricing_page_lists(model: str, cents: str, twin: str) -> None:
    # Limited availability, in the SDK's model list, and unknown to genai-prices 0.2.3: without our
    # entry the call would be recorded with an unknown cost.
    assert price_usage(replace(MYTHOS_CALL, model=model), AT) == Decimal(cents)
    # The page prices each as its Claude Fable twin, which genai-prices does know.
    assert price_usage(replace(MYTHOS_CALL, model=twin), AT) == Decimal(cents)
    # US-only inference: 1.1x on the tokens (97,500 micro-dollars for Mythos 5), not on the searches.
    if model == "claude-mythos-5":
        us_only = replace(MYTHOS_CALL, model=model, inference_geo="us")
        assert price_usage(us_only, AT) == Decimal("12.725000")
    sheet = price_sheet(model, AT)
    assert sheet is not None and sheet["source"] == "codecosts override"
    assert sheet["prices"]["cache_read_mtok"]["usd"] == ("0.25" if "5-1" in model else "1")


def test_a_model_id_near_an_added_one_stays_unknown() -> None:
    for model in ("claude-mythos-5x", "claude-mythos-5-2026", "claude-mythos-preview"):
        assert price_usage(replace(MYTHOS_CALL, model=model), AT) is None, model


def test_a_refusal_is_unbilled_only_when_known_to_have_come_before_any_output() -> None:
    assert unbilled_refusal("refusal", False, AT)
    assert not unbilled_refusal("refusal", True, AT)  # some output first: billed
    assert not unbilled_refusal("refusal", None, AT)  # a message from before the field: billed
    assert not unbilled_refusal("end_turn", False, AT)
    assert not unbilled_refusal("refusal", False, UNBILLED_REFUSALS_SINCE - timedelta(seconds=1))


BEFORE_THE_CUT = datetime(2026, 10, 6, 23, 59, tzinfo=UTC)


def test_genai_prices_still_lacks_sonnet_5_5_s_price_before_its_cache_read_cut() -> None:
    # Fails once genai-prices dates the cut itself: then drop EARLIER_PRICES' entry.
    usage = genai_prices.Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000)
    price = genai_prices.calc_price(
        usage, "claude-sonnet-5-5", provider_id="anthropic", genai_request_timestamp=BEFORE_THE_CUT
    )
    assert price.model_price.cache_read_mtok == Decimal("0.1")
    assert set(EARLIER_PRICES) == {"claude-sonnet-5-5"}


def test_sonnet_5_5_cache_reads_cost_20_cents_a_million_before_2026_10_07_and_10_after() -> None:
    usage = Usage(
        model="claude-sonnet-5-5",
        input_tokens=1_000,
        cache_read_input_tokens=1_000_000,
        cache_creation_input_tokens=1_000,
        cache_creation_5m_input_tokens=1_000,
        output_tokens=1_000,
    )
    # By hand: 1,000 x $2 + 1M x $0.20 + 1,000 x $2.50 + 1,000 x $10 = $0.2145; after the cut the
    # million reads cost $0.10: $0.1145.
    assert price_usage(usage, BEFORE_THE_CUT) == Decimal("21.450000")
    assert price_usage(usage, BEFORE_THE_CUT + timedelta(minutes=1)) == Decimal("11.450000")
    # The bill check prices a usage report row of that day as its calls were priced.
    row = BilledUsage(
        "2026-10-06", None, "claude-sonnet-5-5", "0-200k", TokenCounts(cache_read_input_tokens=1_000_000)
    )
    assert price_billed(row) == Decimal("20.000000")
    assert price_billed(replace(row, day="2026-10-07")) == Decimal("10.000000")
    # And the price sheet says the override applies before the cut.
    sheet = price_sheet("claude-sonnet-5-5", BEFORE_THE_CUT)
    assert sheet is not None and sheet["source"] == "codecosts override"
    assert sheet["prices"]["cache_read_mtok"]["usd"] == "0.2"
