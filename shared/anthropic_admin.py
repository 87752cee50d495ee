"""Anthropic's Admin API, the part the bill check reads: the usage report, the cost report, the key list.

Every call carries the tenant's admin key (`x-api-key`) and `anthropic-version`. Reports are paged
(`has_more` / `next_page`), the key list by `after_id`. A 429 or 5xx is retried a few times, waiting
what `retry-after` asks (capped: an API request must answer within API Gateway's 29 s); what still
fails is an `AdminApiError` carrying Anthropic's own message, never the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.billed import AnthropicApiKey, BilledCost, BilledUsage, TokenCounts

if TYPE_CHECKING:
    import httpx

ANTHROPIC_VERSION = "2023-06-01"
# Grouping the usage report by `speed` needs this beta.
FAST_MODE_BETA = "fast-mode-2026-02-01"
# With 1-day buckets the reports give at most 31 buckets a page.
_DAYS_PER_PAGE = 31
_KEYS_PER_PAGE = 1000
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


class AdminApiError(Exception):
    """The Admin API refused or failed; `message` is Anthropic's (or what went wrong on the way)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    @property
    def refused_key(self) -> bool:
        """Anthropic said no to the key itself (unknown, revoked, or not an admin key)."""
        return self.status_code in (401, 403)


@dataclass
class AdminApiClient:
    base_url: str
    admin_key: str
    timeout: float = 10.0
    max_attempts: int = 3
    max_wait_seconds: float = 4.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def _get(self, path: str, params: list[tuple[str, str]], beta: str | None = None) -> dict[str, Any]:
        import httpx  # loaded by the bill check alone, not at the API's start (bench/coldstart.py)

        headers = {"x-api-key": self.admin_key, "anthropic-version": ANTHROPIC_VERSION}
        if beta:
            headers["anthropic-beta"] = beta
        with httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers=headers,
            timeout=self.timeout,
            transport=self.transport,
            follow_redirects=False,
        ) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    response = client.get(path, params=tuple(params))
                except httpx.HTTPError as error:
                    if attempt == self.max_attempts:
                        raise AdminApiError(
                            f"Anthropic's Admin API could not be reached ({type(error).__name__})"
                        ) from None
                    self.sleep(min(0.5 * 2**attempt, self.max_wait_seconds))
                    continue
                if response.status_code in _RETRIED_STATUSES and attempt < self.max_attempts:
                    self.sleep(self._wait(response, attempt))
                    continue
                if response.status_code != 200:
                    raise AdminApiError(_error_message(response), response.status_code)
                body = response.json()
                if not isinstance(body, dict):
                    raise AdminApiError("Anthropic's Admin API answered with an unexpected body", 200)
                return body
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        try:
            asked = float(response.headers.get("retry-after", ""))
        except ValueError:
            asked = 0.5 * 2**attempt
        return max(0.0, min(asked, self.max_wait_seconds))

    def verify(self) -> None:
        """One cheap call that only an admin key of an organization can make; raises if refused."""
        self._get("/v1/organizations/api_keys", [("limit", "1")])

    def _report(
        self, path: str, start: date, end: date, extra: list[tuple[str, str]], beta: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every bucket of a daily report from `start` (inclusive) to `end` (exclusive), page by page."""
        params = [
            ("starting_at", _midnight(start)),
            ("ending_at", _midnight(end)),
            ("bucket_width", "1d"),
            ("limit", str(_DAYS_PER_PAGE)),
            *extra,
        ]
        page: str | None = None
        while True:
            body = self._get(path, params + ([("page", page)] if page else []), beta)
            yield from body.get("data") or []
            page = body.get("next_page")
            if not body.get("has_more") or not page:
                return

    def usage(self, start: date, end: date) -> list[BilledUsage]:
        rows = []
        # Speed and inference geography too: fast mode and US-only inference change the price.
        dimensions = ("api_key_id", "model", "context_window", "speed", "inference_geo")
        group_by = [("group_by[]", dimension) for dimension in dimensions]
        path = "/v1/organizations/usage_report/messages"
        for bucket in self._report(path, start, end, group_by, FAST_MODE_BETA):
            day = str(bucket["starting_at"])[:10]
            for result in bucket.get("results") or []:
                rows.append(
                    BilledUsage(
                        day=day,
                        anthropic_api_key_id=result.get("api_key_id"),
                        model=str(result.get("model") or "unknown"),
                        context_window=str(result.get("context_window") or "0-200k"),
                        tokens=_token_counts(result),
                        speed=result.get("speed"),
                        inference_geo=result.get("inference_geo"),
                    )
                )
        return rows

    def costs(self, start: date, end: date) -> list[BilledCost]:
        """The cost report by day and model (grouped by description, which names the model)."""
        rows = []
        for bucket in self._report(
            "/v1/organizations/cost_report", start, end, [("group_by[]", "description")]
        ):
            day = str(bucket["starting_at"])[:10]
            for result in bucket.get("results") or []:
                if (result.get("currency") or "USD") != "USD":
                    raise AdminApiError(f"the cost report is in {result['currency']}, not USD")
                rows.append(BilledCost(day, result.get("model"), Decimal(str(result["amount"]))))
        return rows

    def api_keys(self) -> list[AnthropicApiKey]:
        keys = []
        after: str | None = None
        while True:
            params = [("limit", str(_KEYS_PER_PAGE))] + ([("after_id", after)] if after else [])
            body = self._get("/v1/organizations/api_keys", params)
            for key in body.get("data") or []:
                keys.append(AnthropicApiKey(str(key["id"]), key.get("name"), key.get("partial_key_hint")))
            after = body.get("last_id")
            if not body.get("has_more") or not after:
                return keys


def _midnight(day: date) -> str:
    return datetime.combine(day, clock_time(), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_counts(result: dict[str, Any]) -> TokenCounts:
    # The cache write split is nested (`cache_creation.ephemeral_1h_input_tokens`).
    writes = result.get("cache_creation") or {}
    tools = result.get("server_tool_use") or {}
    return TokenCounts(
        uncached_input_tokens=int(result.get("uncached_input_tokens") or 0),
        cache_creation_5m_input_tokens=int(writes.get("ephemeral_5m_input_tokens") or 0),
        cache_creation_1h_input_tokens=int(writes.get("ephemeral_1h_input_tokens") or 0),
        cache_read_input_tokens=int(result.get("cache_read_input_tokens") or 0),
        output_tokens=int(result.get("output_tokens") or 0),
        web_search_requests=int(tools.get("web_search_requests") or 0),
    )


def _error_message(response: httpx.Response) -> str:
    """Anthropic's `error.message` when the body has one, else the status: never the request."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:500]
    return f"Anthropic's Admin API answered {response.status_code}"
