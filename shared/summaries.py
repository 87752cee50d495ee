"""What the API sums up: the usage summary (from the daily aggregates) and the Claude Code sessions
(from their aggregates, and a session's records for its unread 1-hour cache writes).

Sums stay exact (`Cents`, integer tokens); money becomes a JSON number or a 6-decimal string only
in the views returned here, in the contract's shapes (shared/API.md, docs/api.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.cache_economics import unread_1h_cache_writes
from shared.store.usage_records import aggregate_totals
from shared.usage_record import Cents, Totals, UsageRecord, summary_total_name


def _entry(totals: Totals) -> dict[str, Any]:
    return {"cost": totals.cost_cents.number(), "requests": totals.requests, "tokens": totals.tokens.total}


def usage_summary(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """`/api/usage/summary` over daily aggregate rows (day x endpoint x model): totals, then the
    same by model, day, day and model, and endpoint (the most expensive first where not by day)."""
    totals = Totals()
    by_model: dict[str, Totals] = defaultdict(Totals)
    by_day: dict[str, Totals] = defaultdict(Totals)
    by_day_model: dict[tuple[str, str], Totals] = defaultdict(Totals)
    by_endpoint: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        counted = aggregate_totals(row)
        day, model = str(row["day"]), str(row["model"])
        totals += counted
        by_model[model] += counted
        by_day[day] += counted
        by_day_model[(day, model)] += counted
        by_endpoint[str(row.get("proxy_endpoint_id") or "")] += counted
    return {
        "totalCostCents": totals.cost_cents.number(),
        "totalRequests": totals.requests,
        **{summary_total_name(kind): count for kind, count in totals.tokens.by_kind().items()},
        "totalCostWithoutCacheCents": totals.cost_without_cache_cents.number(),
        "cacheSavingsCents": totals.cache_savings.number(),
        "cacheHitRatio": totals.tokens.cache_hit_ratio(),
        "costUnknownRequests": totals.cost_unknown_requests,
        "byModel": sorted(
            ({"model": model, **_entry(sums)} for model, sums in by_model.items()),
            key=lambda entry: (-entry["cost"], entry["model"]),
        ),
        "byDay": [{"date": day, **_entry(sums)} for day, sums in sorted(by_day.items())],
        "byDayModel": [
            {"date": day, "model": model, **_entry(sums)}
            for (day, model), sums in sorted(by_day_model.items())
        ],
        "byEndpoint": sorted(
            ({"proxy_endpoint_id": endpoint, **_entry(sums)} for endpoint, sums in by_endpoint.items()),
            key=lambda entry: (-entry["cost"], entry["proxy_endpoint_id"]),
        ),
    }


def developer_spend(rows: Iterable[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """The summary's `byDeveloper` over per-(day, endpoint, payer) rows: each developer's spend, and
    calls without one by the Anthropic credential that paid (docs/developers.md), the most first."""
    labels: dict[str, dict[str, Any]] = {}
    by_payer: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        payer = str(row["payer"])
        labels[payer] = {name: row.get(name) for name in ("developer_id", "api_key_id", "api_key_hint")}
        by_payer[payer] += aggregate_totals(row)
    entries = [
        {**labels[payer], "name": names.get(labels[payer]["developer_id"] or ""), **_entry(sums)}
        for payer, sums in by_payer.items()
    ]
    return sorted(entries, key=lambda e: (-e["cost"], e["developer_id"] or "", e["api_key_id"] or ""))


def session_view(item: dict[str, Any]) -> dict[str, Any]:
    """A session aggregate item as the API shows it."""
    totals = aggregate_totals(item)
    return {
        "session_id": item["session_id"],
        "first_at": item["first_at"],
        "last_at": item["last_at"],
        "requests": totals.requests,
        **totals.tokens.by_kind(),
        "tokens": totals.tokens.total,
        "cost_cents": str(totals.cost_cents),
        "cost_unknown_requests": totals.cost_unknown_requests,
        "cost_without_cache_cents": str(totals.cost_without_cache_cents),
        "cache_savings_cents": str(totals.cache_savings),
        "cache_hit_ratio": totals.tokens.cache_hit_ratio(),
        "models": sorted(item.get("models") or ()),
        "proxy_endpoint_ids": sorted(item.get("proxy_endpoint_ids") or ()),
        "subagent_requests": int(item.get("subagent_requests") or 0),
        "subagent_cost_cents": str(Cents.parse(item.get("subagent_cost_cents")) or Cents()),
        "subagent_runs": len(item.get("agent_ids") or ()),
        "developer_id": item.get("developer_id"),
    }


def session_detail(item: dict[str, Any], records: Iterable[UsageRecord], now: datetime) -> dict[str, Any]:
    """A session with its 1-hour cache writes never read back, from the session's records."""
    unread = unread_1h_cache_writes(records, now)
    return {
        **session_view(item),
        "unread_1h_cache_writes": unread.writes,
        "unread_1h_cache_write_tokens": unread.tokens,
        "unread_1h_cache_write_extra_cents": str(unread.extra_cents),
        "pending_1h_cache_write_tokens": unread.pending_tokens,
    }
