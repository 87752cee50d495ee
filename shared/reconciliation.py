"""The bill check: what the proxy recorded against what Anthropic billed, per UTC day, model and key.

Recorded comes from the usage records; billed from Anthropic's usage report (tokens by kind, per
day, Anthropic API key, model and context window) and cost report (US cents per day). `drift` is
billed minus recorded. Where the money comes from (docs/bill-check.md says the same):
- by day and in the totals, billed cost is Anthropic's cost report: what the invoice adds up;
- by model and by key, it is the usage report's tokens priced by the same price code as the records
  (the cost report has no key grouping, and leaves server tools such as web search out of models).

An Anthropic key is matched to the proxy's credential attribution by its kind and last four
characters: the key list's `partial_key_hint` (`sk-ant-api03-R2D...igAA`) against the records'
`api_key_hint` (`sk-ant-api03-...igAA`). A billed key that no record in the period matches is
`unrecorded`: that spend went around the proxy.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

from shared.billed import AnthropicApiKey, BilledCost, BilledUsage, TokenCounts
from shared.pricing import model_pricing, price_usage, tier_starts
from shared.usage import Usage
from shared.usage_record import Cents, UsageRecord

LONG_CONTEXT = "200k-1M"
# The usage report's context windows, by prompt tokens (input, cache reads and writes): above, up to.
_WINDOWS: dict[str, tuple[int, float]] = {"0-200k": (0, 200_000), LONG_CONTEXT: (200_000, math.inf)}
_MICRO_CENTS = Decimal("0.000001")
# A rate is read as the difference two prices make: this many units of one kind on top of a base
# prompt that puts the call in a price tier (none for the lowest). Small enough that the probe alone
# never crosses into the next tier (the lowest start is Claude Haiku 5.5's 100,000).
_PROBE_UNITS = 10_000
_HINT = re.compile(r"^(sk-ant-[a-z]+\d*-)?.*?\.\.\.(.{4})$")


@dataclass(frozen=True)
class RecordedCall:
    """What reconciliation needs of one usage record."""

    day: str
    model: str
    api_key_id: str | None
    api_key_hint: str | None
    tokens: TokenCounts
    cost_cents: Decimal
    # Input, cache writes and cache reads: the context window and price tier the call was billed in.
    prompt_tokens: int = 0


def recorded_call(record: UsageRecord) -> RecordedCall:
    tokens = record.tokens
    return RecordedCall(
        day=record.requested_at.astimezone(UTC).date().isoformat(),
        model=record.model or "unknown",
        api_key_id=record.api_key_id,
        api_key_hint=record.api_key_hint,
        tokens=TokenCounts(
            uncached_input_tokens=tokens.input_tokens,
            cache_creation_5m_input_tokens=tokens.cache_creation_5m_input_tokens,
            cache_creation_1h_input_tokens=tokens.cache_creation_1h_input_tokens,
            cache_read_input_tokens=tokens.cache_read_input_tokens,
            output_tokens=tokens.output_tokens,
            web_search_requests=record.web_search_requests,
        ),
        cost_cents=record.cost_cents.amount if record.cost_cents else Decimal(0),
        prompt_tokens=tokens.prompt,
    )


def key_match(hint: str | None) -> tuple[str, str] | None:
    """(kind, last four) of a key hint in either spelling; None when it names neither."""
    match = _HINT.match(hint or "")
    return (match.group(1) or "", match.group(2)) if match else None


def context_window(prompt_tokens: int) -> str:
    """The usage report's window for a call of this prompt size."""
    return LONG_CONTEXT if prompt_tokens > _WINDOWS[LONG_CONTEXT][0] else "0-200k"


@lru_cache(maxsize=512)
def _tier_starts(model: str, day: str, speed: str | None, inference_geo: str | None) -> tuple[int, ...]:
    pricing = model_pricing(model, _noon(day), speed, inference_geo)
    return tier_starts(pricing) if pricing is not None else ()


def _tier(prompt_tokens: int, starts: tuple[int, ...]) -> int:
    """Which price tier a call of this prompt size is in: the whole call pays it (genai-prices' cliff)."""
    return sum(prompt_tokens > start for start in starts)


def _tiers_in_window(window: str, starts: tuple[int, ...]) -> list[int]:
    """The price tiers a usage report row's calls may have been in: one, unless a tier starts inside
    the window (Claude Haiku 5.5's 100k, inside 0-200k)."""
    low, high = _WINDOWS.get(window, _WINDOWS["0-200k"])
    bounds = [0, *starts, math.inf]
    return [tier for tier in range(len(starts) + 1) if bounds[tier] < high and bounds[tier + 1] > low]


def _noon(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(12), tzinfo=UTC)


@lru_cache(maxsize=1024)
def _rate(
    model: str, kind: str, tier: int, day: str, speed: str | None, inference_geo: str | None
) -> Decimal | None:
    """Cents per unit of one kind of token (or per web search) for a model on a day, in a price tier,
    at a speed and inference geography (fast mode's prices, US-only inference's multiplier), as
    records are priced."""
    starts = _tier_starts(model, day, speed, inference_geo)
    base = Usage(
        model=model,
        input_tokens=starts[tier - 1] + 1 if tier else 0,
        speed=speed,
        inference_geo=inference_geo,
    )
    probe = replace(base)
    if kind == "uncached_input_tokens":
        probe.input_tokens += _PROBE_UNITS
    elif kind == "web_search_requests":
        probe.server_tool_use = {"web_search_requests": _PROBE_UNITS}
    else:
        setattr(probe, kind, _PROBE_UNITS)
        if kind.startswith("cache_creation_"):
            probe.cache_creation_input_tokens = _PROBE_UNITS
    at = _noon(day)
    with_probe, without = price_usage(probe, at), price_usage(base, at)
    if with_probe is None or without is None:
        return None
    return (with_probe - without) / _PROBE_UNITS


# What the recorded calls of a (day, model, key, context window) had of each kind in each price tier.
TierMix = Mapping[tuple[str, str, tuple[str, str] | None, str, int], TokenCounts]
_ANY_KEY = ("", "*")  # the mix of every key's calls (no key hint ends in `*`)
_NONE = TokenCounts()


def price_billed(
    row: BilledUsage, recorded: TierMix | None = None, key: tuple[str, str] | None = None
) -> Decimal:
    """Billed tokens priced as a record is; a model the prices do not know costs 0 (and shows as drift).

    A row whose window holds more than one price tier of its model (Claude Haiku 5.5: its 100k tier
    inside 0-200k) cannot say which of its tokens came from calls above the tier's start. Each kind is
    then split between the tiers as the recorded calls of the same day, model, key (`key`: its kind
    and last four) and window split it, so a bill that matches the records prices the same; for a key
    with no such calls (spend around the proxy), as every key's calls split it; with none at all, at
    the window's lowest tier."""
    starts = _tier_starts(row.model, row.day, row.speed, row.inference_geo)
    tiers = _tiers_in_window(row.context_window, starts)
    total = Decimal(0)
    mix = recorded or {}
    for kind, count in row.tokens.as_dict().items():
        if not count:
            continue
        seen: dict[int, int] = {}
        for who in (key, _ANY_KEY):  # the key's own calls, else every key's
            seen = {
                tier: getattr(mix.get((row.day, row.model, who, row.context_window, tier), _NONE), kind)
                for tier in tiers
            }
            if any(seen.values()):
                break
        weight = sum(seen.values())
        shares = (
            {tier: Decimal(units) / weight for tier, units in seen.items()}
            if weight
            else {tiers[0]: Decimal(1)}
        )
        for tier, share in shares.items():
            rate = _rate(row.model, kind, tier, row.day, row.speed, row.inference_geo)
            total += (rate or Decimal(0)) * count * share
    return total.quantize(_MICRO_CENTS)


@dataclass
class _Side:
    tokens: TokenCounts = field(default_factory=TokenCounts)
    cost: Decimal = field(default_factory=Decimal)

    def add(self, tokens: TokenCounts, cost: Decimal) -> None:
        self.tokens = self.tokens + tokens
        self.cost += cost


def _line(recorded: _Side, billed: _Side, billed_cost: Decimal | None = None) -> dict[str, Any]:
    billed_cents = billed.cost if billed_cost is None else billed_cost
    return {
        "recordedCostCents": Cents(recorded.cost).number(),
        "billedCostCents": Cents(billed_cents).number(),
        "driftCostCents": Cents(billed_cents - recorded.cost).number(),
        "recorded": recorded.tokens.as_dict(),
        "billed": billed.tokens.as_dict(),
    }


def reconcile(
    recorded: Iterable[RecordedCall],
    billed_usage: Iterable[BilledUsage],
    billed_costs: Iterable[BilledCost],
    anthropic_keys: Iterable[AnthropicApiKey],
) -> dict[str, Any]:
    """The contract's `totals`, `byDay`, `byModel` and `byKey` for the calls and reports given."""
    by_day: dict[str, tuple[_Side, _Side]] = defaultdict(lambda: (_Side(), _Side()))
    by_model: dict[str, tuple[_Side, _Side]] = defaultdict(lambda: (_Side(), _Side()))
    # Per Anthropic key: billed cost; per match (kind, last four): recorded cost and our fingerprint.
    billed_by_key: dict[str | None, Decimal] = defaultdict(Decimal)
    recorded_by_match: dict[tuple[str, str] | None, Decimal] = defaultdict(Decimal)
    recorded_hints: dict[tuple[str, str] | None, tuple[str | None, str | None]] = {}

    mix: dict[tuple[str, str, tuple[str, str] | None, str, int], TokenCounts] = defaultdict(TokenCounts)
    for call in recorded:
        by_day[call.day][0].add(call.tokens, call.cost_cents)
        by_model[call.model][0].add(call.tokens, call.cost_cents)
        match = key_match(call.api_key_hint)
        recorded_by_match[match] += call.cost_cents
        recorded_hints.setdefault(match, (call.api_key_id, call.api_key_hint))
        tier = _tier(call.prompt_tokens, _tier_starts(call.model, call.day, None, None))
        window = context_window(call.prompt_tokens)
        mix[call.day, call.model, match, window, tier] += call.tokens
        mix[call.day, call.model, _ANY_KEY, window, tier] += call.tokens

    anthropic_keys = list(anthropic_keys)
    matches = {key.id: key_match(key.partial_key_hint) for key in anthropic_keys}
    for row in billed_usage:
        key = matches.get(row.anthropic_api_key_id) if row.anthropic_api_key_id else None
        cost = price_billed(row, mix, key)
        by_day[row.day][1].add(row.tokens, cost)
        by_model[row.model][1].add(row.tokens, cost)
        billed_by_key[row.anthropic_api_key_id] += cost

    reported: dict[str, Decimal] = defaultdict(Decimal)
    for cost_row in billed_costs:
        reported[cost_row.day] += cost_row.amount_cents
        by_day.setdefault(cost_row.day, (_Side(), _Side()))  # a day with costs and no tokens shows too

    # The cost report where it covers the day; the priced tokens where it does not (yet).
    day_billed = {day: reported.get(day, billed_side.cost) for day, (_, billed_side) in by_day.items()}
    days = [
        {"date": day, **_line(recorded_side, billed_side, day_billed[day])}
        for day, (recorded_side, billed_side) in sorted(by_day.items())
    ]
    models = [
        {"model": model, **_line(recorded_side, billed_side)}
        for model, (recorded_side, billed_side) in sorted(by_model.items())
    ]
    keys, unrecorded = _by_key(anthropic_keys, billed_by_key, recorded_by_match, recorded_hints)
    recorded_total = sum((side.cost for side, _ in by_day.values()), Decimal(0))
    billed_total = sum(day_billed.values(), Decimal(0))
    return {
        "totals": {
            "recordedCostCents": Cents(recorded_total).number(),
            "billedCostCents": Cents(billed_total).number(),
            "driftCostCents": Cents(billed_total - recorded_total).number(),
            "unrecordedCostCents": Cents(unrecorded).number(),
        },
        "byDay": days,
        "byModel": models,
        "byKey": keys,
    }


def _by_key(
    anthropic_keys: Iterable[AnthropicApiKey],
    billed_by_key: Mapping[str | None, Decimal],
    recorded_by_match: Mapping[tuple[str, str] | None, Decimal],
    recorded_hints: Mapping[tuple[str, str] | None, tuple[str | None, str | None]],
) -> tuple[list[dict[str, Any]], Decimal]:
    listed = {key.id: key for key in anthropic_keys}
    rows: list[dict[str, Any]] = []
    matched: set[tuple[str, str] | None] = set()
    unrecorded = Decimal(0)
    for key_id in sorted(set(billed_by_key) | set(listed), key=lambda k: k or ""):
        key = listed.get(key_id) if key_id else None
        hint = key.partial_key_hint if key else None
        match = key_match(hint)
        seen = match is not None and match in recorded_by_match and match not in matched
        billed = billed_by_key.get(key_id, Decimal(0))
        if not seen and not billed:
            continue  # a listed key that neither spent nor passed through: nothing to say
        recorded = recorded_by_match[match] if seen else Decimal(0)
        if seen:
            matched.add(match)
        else:
            unrecorded += billed
        rows.append(
            {
                "anthropic_api_key_id": key_id,
                "partial_key_hint": hint,
                "api_key_id": recorded_hints[match][0] if seen else None,
                "recordedCostCents": Cents(recorded).number(),
                "billedCostCents": Cents(billed).number(),
                "unrecorded": not seen,
            }
        )
    # Credentials the proxy saw that this organization does not bill (another organization's key,
    # a Claude subscription's token): recorded here, billed elsewhere.
    for match, cost in sorted(recorded_by_match.items(), key=lambda item: str(item[0])):
        if match in matched:
            continue
        api_key_id, api_key_hint = recorded_hints[match]
        rows.append(
            {
                "anthropic_api_key_id": None,
                "partial_key_hint": api_key_hint,
                "api_key_id": api_key_id,
                "recordedCostCents": Cents(cost).number(),
                "billedCostCents": 0.0,
                "unrecorded": False,
            }
        )
    return rows, unrecorded
