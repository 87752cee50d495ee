"""What Anthropic billed, in the shapes of its Admin API reports (shared/anthropic_admin.py reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TokenCounts:
    """Tokens by the kinds Anthropic bills separately (the usage report's split)."""

    uncached_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    web_search_requests: int = 0

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(
            *(getattr(self, name) + getattr(other, name) for name in TokenCounts.__dataclass_fields__)
        )

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in TokenCounts.__dataclass_fields__}


@dataclass(frozen=True)
class BilledUsage:
    day: str  # UTC, `2026-11-03`
    anthropic_api_key_id: str | None  # None: usage without an API key (the Console's workbench)
    model: str
    context_window: str  # "0-200k" or "200k-1M": the long-context rate applies to the second
    tokens: TokenCounts
    # As the usage report names them; None where it says nothing: standard speed, global inference.
    speed: str | None = None  # "standard" or "fast" (fast mode's prices)
    inference_geo: str | None = None  # "global", "us" (US-only inference's multiplier), "not_available"


@dataclass(frozen=True)
class BilledCost:
    day: str
    model: str | None  # None for costs that belong to no model (server tools such as web search)
    amount_cents: Decimal


@dataclass(frozen=True)
class AnthropicApiKey:
    id: str
    name: str | None
    partial_key_hint: str | None
