"""The comparison itself, on plain data: the cases the fake Anthropic does not produce."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from shared.billed import AnthropicApiKey, BilledCost, BilledUsage, TokenCounts
from shared.pricing import price_usage
from shared.reconciliation import RecordedCall, key_match, price_billed, reconcile
from shared.usage import Usage

DAY = "2026-11-20"


def test_a_key_hint_matches_in_either_spelling() -> None:
    assert (
        key_match("sk-ant-api03-R2D...igAA") == key_match("sk-ant-api03-...igAA") == ("sk-ant-api03-", "igAA")
    )
    assert key_match("sk-ant-admin01-...igAA") != key_match("sk-ant-api03-...igAA")
    assert key_match(None) is None


def test_console_spend_and_credentials_billed_elsewhere_are_told_apart() -> None:
    subscription = RecordedCall(
        DAY,
        "claude-haiku-4-5",
        "fingerprint0001",
        "sk-ant-oat01-...Subs",
        TokenCounts(output_tokens=10),
        Decimal("0.05"),
    )
    console = BilledUsage(DAY, None, "claude-haiku-4-5", "0-200k", TokenCounts(uncached_input_tokens=1000))

    body = reconcile(
        [subscription], [console], [], [AnthropicApiKey("apikey_1", "Unused", "sk-ant-api03-Abc...Unus")]
    )

    console_cost = price_billed(console)
    assert console_cost == Decimal("0.100000")  # 1,000 Haiku 4.5 input tokens at $1/MTok
    assert body["byKey"] == [
        {
            "anthropic_api_key_id": None,
            "partial_key_hint": None,
            "api_key_id": None,
            "recordedCostCents": 0.0,
            "billedCostCents": 0.1,
            "unrecorded": True,
        },
        {
            "anthropic_api_key_id": None,
            "partial_key_hint": "sk-ant-oat01-...Subs",
            "api_key_id": "fingerprint0001",
            "recordedCostCents": 0.05,
            "billedCostCents": 0.0,
            "unrecorded": False,
        },
    ]
    assert body["totals"]["unrecordedCostCents"] == 0.1


def test_a_day_is_billed_as_the_cost_report_says_and_priced_where_it_has_no_report_yet() -> None:
    usage = [
        BilledUsage("2026-11-19", "apikey_1", "claude-haiku-4-5", "0-200k", TokenCounts(output_tokens=1000)),
        BilledUsage("2026-11-20", "apikey_1", "claude-haiku-4-5", "0-200k", TokenCounts(output_tokens=1000)),
    ]
    costs = [
        BilledCost("2026-11-19", "claude-haiku-4-5", Decimal("0.4")),
        BilledCost("2026-11-19", None, Decimal("1")),
    ]

    body = reconcile([], usage, costs, [])

    assert [(day["date"], day["billedCostCents"]) for day in body["byDay"]] == [
        ("2026-11-19", 1.4),  # the cost report, web search (no model) included
        ("2026-11-20", 0.5),  # no report yet: 1,000 output tokens at $5/MTok
    ]
    assert body["totals"]["billedCostCents"] == 1.9
    assert body["byModel"][0]["billedCostCents"] == 1.0  # by model: always the priced tokens


def test_billed_tokens_are_priced_where_the_usage_report_says_inference_ran() -> None:
    """US-only inference costs more; the usage report says where a call ran, and its billed tokens are
    priced as the record of that call is."""
    us_only = BilledUsage(
        DAY,
        "apikey_1",
        "claude-opus-4-6",
        "0-200k",
        TokenCounts(uncached_input_tokens=1000),
        inference_geo="us",
    )
    recorded = price_usage(
        Usage(model="claude-opus-4-6", input_tokens=1000, inference_geo="us"),
        datetime.fromisoformat(DAY).replace(hour=12, tzinfo=UTC),
    )
    assert price_billed(us_only) == recorded == Decimal("0.550000")  # $5/MTok, times 1.1
    assert price_billed(replace(us_only, inference_geo="global")) == Decimal("0.500000")


def _haiku_5_5_call(uncached: int, cache_read: int, output: int) -> RecordedCall:
    usage = Usage(
        model="claude-haiku-5-5",
        input_tokens=uncached,
        cache_read_input_tokens=cache_read,
        output_tokens=output,
    )
    cost = price_usage(usage, datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert cost is not None
    return RecordedCall(
        DAY,
        "claude-haiku-5-5",
        "fingerprint0002",
        "sk-ant-api03-...Hk55",
        TokenCounts(uncached_input_tokens=uncached, cache_read_input_tokens=cache_read, output_tokens=output),
        cost,
        prompt_tokens=uncached + cache_read,
    )


def test_a_window_holding_two_price_tiers_is_priced_as_the_recorded_calls_were() -> None:
    # Claude Haiku 5.5 costs 5x above 100k prompt tokens ($0.10 -> $0.50 input, $0.01 -> $0.05 cache
    # reads, $0.50 -> $2.50 output per MTok), but the usage report's first window runs to 200k: its row
    # adds up a 150k call and a 20k one without saying which tokens were whose.
    big, small = _haiku_5_5_call(20_000, 130_000, 2_000), _haiku_5_5_call(20_000, 0, 1_000)
    assert big.cost_cents == Decimal("2.15")  # by hand: (20k x 0.50 + 130k x 0.05 + 2k x 2.50) / 1M $
    assert small.cost_cents == Decimal("0.25")  # (20k x 0.10 + 1k x 0.50) / 1M $
    key = AnthropicApiKey("apikey_h", "Haiku", "sk-ant-api03-Xy1...Hk55")
    billed = BilledUsage(
        DAY,
        "apikey_h",
        "claude-haiku-5-5",
        "0-200k",
        TokenCounts(uncached_input_tokens=40_000, cache_read_input_tokens=130_000, output_tokens=3_000),
    )

    body = reconcile([big, small], [billed], [], [key])

    [model] = body["byModel"]
    assert model["recordedCostCents"] == model["billedCostCents"] == 2.4
    assert body["byKey"][0]["billedCostCents"] == 2.4
    # The base rate alone would have billed 0.68 cents, a drift that no call caused.
    assert price_billed(billed) == Decimal("0.680000")

    # A call the proxy never saw (another 10k input, 1k output) is priced at the recorded calls' mix:
    # half the input tokens, and two of three output tokens, were in the upper tier.
    more = replace(
        billed, tokens=billed.tokens + TokenCounts(uncached_input_tokens=10_000, output_tokens=1_000)
    )
    [model] = reconcile([big, small], [more], [], [key])["byModel"]
    assert model["billedCostCents"] == 2.883333  # 2.4, and 10k x $0.30 and 1k x $1.8333 per MTok


def test_a_long_context_call_of_a_two_tier_model_stays_out_of_the_first_window_mix() -> None:
    # A 250k call is in the 200k-1M row; the 0-200k row's calls are all small, so it prices at base.
    huge, small = _haiku_5_5_call(250_000, 0, 1_000), _haiku_5_5_call(20_000, 0, 1_000)
    key = AnthropicApiKey("apikey_h", "Haiku", "sk-ant-api03-Xy1...Hk55")
    rows = [
        BilledUsage(DAY, "apikey_h", "claude-haiku-5-5", "0-200k", small.tokens),
        BilledUsage(DAY, "apikey_h", "claude-haiku-5-5", "200k-1M", huge.tokens),
    ]
    [model] = reconcile([huge, small], rows, [], [key])["byModel"]
    assert model["billedCostCents"] == model["recordedCostCents"] == float(huge.cost_cents + small.cost_cents)


def test_a_key_the_proxy_never_saw_is_priced_at_every_recorded_key_s_mix() -> None:
    big, small = _haiku_5_5_call(20_000, 130_000, 2_000), _haiku_5_5_call(20_000, 0, 1_000)
    keys = [
        AnthropicApiKey("apikey_h", "Haiku", "sk-ant-api03-Xy1...Hk55"),
        AnthropicApiKey("apikey_o", "Around the proxy", "sk-ant-api03-Zz9...Othr"),
    ]
    # The other key spent the same tokens as the two recorded calls, without the proxy.
    around = BilledUsage(DAY, "apikey_o", "claude-haiku-5-5", "0-200k", big.tokens + small.tokens)

    body = reconcile([big, small], [around], [], keys)

    assert body["totals"]["unrecordedCostCents"] == 2.4  # not 0.68: as the recorded calls were priced
