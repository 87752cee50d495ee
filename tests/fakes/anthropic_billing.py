"""The fake Anthropic's Admin API: it bills what the fake actually served.

Every Messages reply the fake sends is read back (the usage it carried) into a `Ledger`, by UTC day,
API key and model. The Admin API endpoints answer from it in Anthropic's shapes:
- `GET /v1/organizations/usage_report/messages`: tokens by kind per daily bucket, grouped by any of
  `api_key_id`, `model`, `context_window` (and `speed`, `inference_geo`: null, as everything it
  serves is standard speed and global; grouping by `speed` needs the fast-mode beta header, as at
  Anthropic); paged by `limit` buckets (`has_more`, `next_page`);
- `GET /v1/organizations/cost_report`: US cents as decimal strings, per day, grouped by
  `description` (one row per model and token type, plus web search), priced at published prices
  (the genai-prices snapshot), call by call;
- `GET /v1/organizations/api_keys`: every key that made a call, with a `partial_key_hint`; paged
  by `after_id`.
Only an admin key in `Ledger.admin_keys` gets an answer (else Anthropic's 401); `Ledger.failures`
are error statuses the next Admin API calls answer, one each, and `Ledger.failure`, when set, is
what every call answers. A 429 or 529 says `retry-after: 1`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import genai_prices

from shared.anthropic_admin import FAST_MODE_BETA

FAKE_ADMIN_KEY = "sk-ant-admin01-fakeAdminKeyForTheBillCheck0000-AAAA"
KINDS = (
    "uncached_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "web_search_requests",
)
# How each kind is named as a cost report `token_type`.
TOKEN_TYPES = {
    "uncached_input_tokens": "uncached_input_tokens",
    "cache_creation_5m_input_tokens": "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation_1h_input_tokens": "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens": "cache_read_input_tokens",
    "output_tokens": "output_tokens",
}
_KIND = re.compile(r"^(sk-ant-[a-z]+\d*-)")


def key_id(api_key: str) -> str:
    return "apikey_" + hashlib.sha256(api_key.encode()).hexdigest()[:24]


def partial_key_hint(api_key: str) -> str:
    """As Anthropic's key list shows a key: its kind, three more characters, `...`, the last four."""
    match = _KIND.match(api_key)
    kind = match.group(1) if match else ""
    return f"{kind}{api_key[len(kind) : len(kind) + 3]}...{api_key[-4:]}"


@dataclass(frozen=True)
class ServedCall:
    day: str
    api_key: str
    model: str
    tokens: dict[str, int]

    @property
    def context_window(self) -> str:
        prompt = sum(self.tokens[kind] for kind in KINDS[:4])
        return "200k-1M" if prompt > 200_000 else "0-200k"

    def _anthropic_usage(self, **tokens: int) -> dict[str, Any]:
        writes_5m = tokens.get("cache_creation_5m_input_tokens", 0)
        writes_1h = tokens.get("cache_creation_1h_input_tokens", 0)
        return {
            "input_tokens": tokens.get("uncached_input_tokens", 0),
            "cache_creation_input_tokens": writes_5m + writes_1h,
            "cache_read_input_tokens": tokens.get("cache_read_input_tokens", 0),
            "cache_creation": {
                "ephemeral_5m_input_tokens": writes_5m,
                "ephemeral_1h_input_tokens": writes_1h,
            },
            "output_tokens": tokens.get("output_tokens", 0),
            "server_tool_use": {"web_search_requests": tokens.get("web_search_requests", 0)},
        }

    def _price(self, usage: dict[str, Any]) -> Decimal:
        """US cents at published prices; the tier is chosen by the whole call, as Anthropic does."""
        extracted = genai_prices.extract_usage({"model": self.model, "usage": usage}, provider_id="anthropic")
        at = datetime.fromisoformat(self.day).replace(hour=12, tzinfo=UTC)
        return Decimal(extracted.calc_price(genai_request_timestamp=at).total_price) * 100

    def costs(self) -> dict[str, Decimal]:
        """The call's cost by token type (and `web_search`), summing to the price of the whole call."""
        total = self._price(self._anthropic_usage(**self.tokens))
        parts = {
            kind: self._price(self._anthropic_usage(**{kind: count}))
            for kind, count in self.tokens.items()
            if count
        }
        # Pricing a kind alone misses the long-context tier: the whole call's price is what is billed.
        parts["uncached_input_tokens"] = total - sum(
            (cost for kind, cost in parts.items() if kind != "uncached_input_tokens"), Decimal(0)
        )
        return parts


def read_served_usage(body: bytes, stream: bool) -> tuple[str, dict[str, int]] | None:
    """(model, tokens by kind) of a reply as the fake sent it; None when it carried no usage."""
    model: str | None = None
    usage: dict[str, Any] = {}
    if stream:
        for line in body.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            if event.get("type") == "message_start":
                model = event["message"].get("model")
                usage = dict(event["message"].get("usage") or {})
            elif event.get("type") == "message_delta":
                usage.update(event.get("usage") or {})
    else:
        reply = json.loads(body)
        if reply.get("type") != "message":
            return None
        model, usage = reply.get("model"), dict(reply.get("usage") or {})
    if model is None or not usage:
        return None
    writes = usage.get("cache_creation") or {
        "ephemeral_5m_input_tokens": usage.get("cache_creation_input_tokens") or 0,
        "ephemeral_1h_input_tokens": 0,
    }
    tokens = {
        "uncached_input_tokens": usage.get("input_tokens") or 0,
        "cache_creation_5m_input_tokens": writes.get("ephemeral_5m_input_tokens") or 0,
        "cache_creation_1h_input_tokens": writes.get("ephemeral_1h_input_tokens") or 0,
        "cache_read_input_tokens": usage.get("cache_read_input_tokens") or 0,
        "output_tokens": usage.get("output_tokens") or 0,
        "web_search_requests": (usage.get("server_tool_use") or {}).get("web_search_requests") or 0,
    }
    return model, {kind: int(count) for kind, count in tokens.items()}


@dataclass
class AdminReply:
    status: int
    body: dict[str, Any]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


_FAILURES = {
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit"),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass
class Ledger:
    calls: list[ServedCall] = field(default_factory=list)
    admin_keys: set[str] = field(default_factory=lambda: {FAKE_ADMIN_KEY})
    failures: list[int] = field(default_factory=list)  # the next calls answer these, in order
    failure: int | None = None  # every Admin API call answers this status while set
    page_days: int | None = None  # at most this many buckets a page (to make tests page)
    keys_page_size: int | None = None

    def serve(self, api_key: str, body: bytes, stream: bool, day: date | None = None) -> None:
        served = read_served_usage(body, stream)
        if served is not None:
            model, tokens = served
            self.calls.append(
                ServedCall((day or datetime.now(UTC).date()).isoformat(), api_key, model, tokens)
            )

    def answer(self, path: str, query: str, admin_key: str | None, betas: str = "") -> AdminReply | None:
        """The reply to an Admin API request; None when `path` is not one of its endpoints."""
        routes = {
            "/v1/organizations/usage_report/messages": self._usage_report,
            "/v1/organizations/cost_report": self._cost_report,
            "/v1/organizations/api_keys": self._api_keys,
        }
        if path not in routes:
            return None
        if admin_key not in self.admin_keys:
            return _error(401, "authentication_error", "invalid x-api-key")
        failing = self.failures.pop(0) if self.failures else self.failure
        if failing is not None:
            return _error(failing, *_FAILURES.get(failing, ("api_error", "Internal server error")))
        params = parse_qs(query)
        if "speed" in params.get("group_by[]", []) and FAST_MODE_BETA not in betas.split(","):
            return _error(
                400, "invalid_request_error", f"Grouping by speed requires the {FAST_MODE_BETA} beta"
            )
        return routes[path](params)

    def _days(self, params: dict[str, list[str]]) -> tuple[list[str], str | None]:
        start = date.fromisoformat(params["starting_at"][0][:10])
        end = (
            date.fromisoformat(params["ending_at"][0][:10]) if "ending_at" in params else start + timedelta(7)
        )
        if "page" in params:
            start = date.fromisoformat(base64.urlsafe_b64decode(params["page"][0]).decode())
        limit = min(int(params.get("limit", ["7"])[0]), self.page_days or 31)
        days = [(start + timedelta(n)).isoformat() for n in range((end - start).days)]
        page, rest = days[:limit], days[limit:]
        return page, base64.urlsafe_b64encode(rest[0].encode()).decode() if rest else None

    def _usage_report(self, params: dict[str, list[str]]) -> AdminReply:
        group_by = params.get("group_by[]", []) + params.get("group_by", [])
        days, next_page = self._days(params)
        data = []
        for day in days:
            groups: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
            for call in self.calls:
                if call.day != day:
                    continue
                group = (
                    key_id(call.api_key) if "api_key_id" in group_by else None,
                    call.model if "model" in group_by else None,
                    call.context_window if "context_window" in group_by else None,
                )
                for kind, count in call.tokens.items():
                    groups[group][kind] += count
            results = [
                {
                    "api_key_id": api_key,
                    "workspace_id": None,
                    "model": model,
                    "service_tier": None,
                    "context_window": window,
                    "speed": None,
                    "inference_geo": None,
                    "uncached_input_tokens": tokens["uncached_input_tokens"],
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": tokens["cache_creation_1h_input_tokens"],
                        "ephemeral_5m_input_tokens": tokens["cache_creation_5m_input_tokens"],
                    },
                    "cache_read_input_tokens": tokens["cache_read_input_tokens"],
                    "output_tokens": tokens["output_tokens"],
                    "server_tool_use": {"web_search_requests": tokens["web_search_requests"]},
                }
                for (api_key, model, window), tokens in groups.items()
            ]
            data.append(
                {"starting_at": f"{day}T00:00:00Z", "ending_at": _next_midnight(day), "results": results}
            )
        return AdminReply(200, {"data": data, "has_more": next_page is not None, "next_page": next_page})

    def _cost_report(self, params: dict[str, list[str]]) -> AdminReply:
        by_description = "description" in params.get("group_by[]", []) + params.get("group_by", [])
        days, next_page = self._days(params)
        data = []
        for day in days:
            amounts: dict[tuple[str | None, str], Decimal] = defaultdict(Decimal)
            for call in self.calls:
                if call.day == day:
                    for kind, cost in call.costs().items():
                        amounts[(None if kind == "web_search_requests" else call.model, kind)] += cost
            if by_description:
                results = [_cost_row(model, kind, amount) for (model, kind), amount in amounts.items()]
            else:
                total = sum(amounts.values(), Decimal(0))
                results = [_cost_row(None, None, total)] if amounts else []
            data.append(
                {"starting_at": f"{day}T00:00:00Z", "ending_at": _next_midnight(day), "results": results}
            )
        return AdminReply(200, {"data": data, "has_more": next_page is not None, "next_page": next_page})

    def _api_keys(self, params: dict[str, list[str]]) -> AdminReply:
        keys = list(dict.fromkeys(call.api_key for call in self.calls))
        items = [
            {
                "id": key_id(key),
                "type": "api_key",
                "name": f"Key {index + 1}",
                "partial_key_hint": partial_key_hint(key),
                "status": "active",
                "workspace_id": None,
                "created_at": "2026-01-01T00:00:00Z",
            }
            for index, key in enumerate(keys)
        ]
        if "after_id" in params:
            after = [item["id"] for item in items].index(params["after_id"][0]) + 1
            items = items[after:]
        limit = min(int(params.get("limit", ["20"])[0]), self.keys_page_size or 1000)
        page = items[:limit]
        return AdminReply(
            200,
            {
                "data": page,
                "has_more": len(items) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )


def _cost_row(model: str | None, kind: str | None, amount: Decimal) -> dict[str, Any]:
    web_search = kind == "web_search_requests"
    return {
        "currency": "USD",
        "amount": str(amount),
        "workspace_id": None,
        "description": None if kind is None else ("Web search" if web_search else f"{model} {kind}"),
        "cost_type": None if kind is None else ("web_search" if web_search else "tokens"),
        "context_window": None,
        "model": model,
        "service_tier": None if kind is None else "standard",
        "token_type": TOKEN_TYPES.get(kind or ""),
    }


def _next_midnight(day: str) -> str:
    return f"{(date.fromisoformat(day) + timedelta(1)).isoformat()}T00:00:00Z"


def _error(status: int, kind: str, message: str) -> AdminReply:
    headers = [(b"retry-after", b"1")] if status in (429, 529) else []
    return AdminReply(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)
