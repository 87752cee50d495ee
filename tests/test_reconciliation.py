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
