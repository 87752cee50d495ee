"""One usage record (one call through the proxy), its money type and its token kinds: the one
definition every layer works from.

- `Tokens` is the list of token kinds (`TOKEN_KINDS`): the proxy's `Usage` is one, a record carries
  one; the store's items and aggregate counters, the API's records, sessions and summary, the CSV
  export and the CLI iterate it. Adding a token kind is one `token_kind(...)` line in `Tokens`
  (tests/api/test_token_kinds.py then walks it through every view).
- `UsageRecord` is what the ingest builds (`UsageIngest.build_record`) and the store writes and
  reads back; the store alone turns it into and out of DynamoDB items (`usage_item`,
  `usage_record`). A field's metadata says whether the API shows it (`LISTED` or `listed(...)`:
  list, detail and a CSV column; `in_detail(...)`: the detail only); the API's schemas, its record
  view and the CSV columns are derived from that. Adding a field, say `developer_id`, is one line
  here (`developer_id: str | None = field(default=None, metadata=listed("..."))`), its value in
  `build_record`, and its row in docs/data-model.md.
- `Cents` is money: exact; `str()` is the 6-decimal text records store and records and sessions
  show, `number()` the JSON number of summaries and the reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal, get_args, get_type_hints

from shared.timefmt import format_timestamp


@dataclass(frozen=True, order=True)
class Cents:
    """An amount of US cents, exact (a Decimal, never a float, until it is shown as a JSON number)."""

    amount: Decimal = Decimal(0)

    @classmethod
    def parse(cls, value: Decimal | str | int | None) -> Cents | None:
        """An amount as stored or computed (`"1.500000"`, `Decimal("1.5")`); None stays None."""
        return None if value is None else cls(Decimal(str(value)))

    def __add__(self, other: Cents) -> Cents:
        return Cents(self.amount + other.amount)

    def __sub__(self, other: Cents) -> Cents:
        return Cents(self.amount - other.amount)

    def __str__(self) -> str:
        """The text form records store and records and sessions show: `"1.500000"`."""
        return f"{self.amount:.6f}"

    def number(self) -> float:
        """The JSON number summaries and the reconciliation show, rounded to the records' 6 decimals
        only here, after exact sums."""
        return float(round(self.amount, 6))


def token_kind(label: str, column: str) -> Any:
    """A token kind's field: its count (0 unless reported), what a person reads it as (`label`) and
    its short column header in tables."""
    return field(default=0, metadata={"label": label, "column": column})


@dataclass
class Tokens:
    """Tokens of a call by kind, as Anthropic reports them (cumulative counts, never deltas)."""

    input_tokens: int = token_kind("Input tokens", "IN")  # uncached input
    output_tokens: int = token_kind("Output tokens", "OUT")
    # Of the output, what the model spent on reasoning (`usage.output_tokens_details.thinking_tokens`):
    # billed as output, shown apart. Always within `output_tokens`.
    thinking_tokens: int = token_kind("  of them thinking", "THINK")
    # All cache writes: the 5-minute and the 1-hour ones.
    cache_creation_input_tokens: int = token_kind("Cache writes", "CACHE W")
    cache_read_input_tokens: int = token_kind("Cache reads", "CACHE R")
    cache_creation_5m_input_tokens: int = token_kind("  of them 5-minute", "W 5M")
    cache_creation_1h_input_tokens: int = token_kind("  of them 1-hour", "W 1H")

    def counts(self) -> Tokens:
        """The counts alone, as a plain `Tokens` (from a `Usage`, which is one with more fields)."""
        return Tokens(**self.by_kind())

    def by_kind(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in TOKEN_KINDS}

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(**{kind: getattr(self, kind) + getattr(other, kind) for kind in TOKEN_KINDS})

    @property
    def prompt(self) -> int:
        """Every prompt token: uncached input, cache writes and cache reads."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def total(self) -> int:
        """What the API calls `tokens`: input + output + cache writes + cache reads."""
        return self.prompt + self.output_tokens

    def cache_hit_ratio(self) -> float:
        """Cache reads over every prompt token; 0 without input."""
        return round(self.cache_read_input_tokens / self.prompt, 6) if self.prompt else 0.0


TOKEN_KINDS: tuple[str, ...] = tuple(kind.name for kind in fields(Tokens))
# How tables show each kind: {kind: (label, column header)}.
TOKEN_LABELS: dict[str, tuple[str, str]] = {
    kind.name: (kind.metadata["label"], kind.metadata["column"]) for kind in fields(Tokens)
}


def summary_total_name(kind: str) -> str:
    """The usage summary's total of a token kind: `cache_read_input_tokens` -> `totalCacheReadInputTokens`."""
    return "total" + "".join(part.capitalize() for part in kind.split("_"))


@dataclass
class Totals:
    """What a set of calls adds up to: the counters of an aggregate (a day and model, a session)."""

    requests: int = 0
    cost_cents: Cents = Cents()  # calls of unknown cost add 0
    cost_without_cache_cents: Cents = Cents()
    cost_unknown_requests: int = 0
    tokens: Tokens = field(default_factory=Tokens)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.requests + other.requests,
            self.cost_cents + other.cost_cents,
            self.cost_without_cache_cents + other.cost_without_cache_cents,
            self.cost_unknown_requests + other.cost_unknown_requests,
            self.tokens + other.tokens,
        )

    @property
    def cache_savings(self) -> Cents:
        """What caching saved; negative when writes never read back cost more than reads saved."""
        return self.cost_without_cache_cents - self.cost_cents


Shown = Literal["list", "detail"]


def listed(description: str | None = None) -> dict[str, Any]:
    """The metadata of a field the API shows in the list and the detail of records (and the CSV
    export in a column), described so in the API's schema."""
    return {"shown": "list", "description": description}


LISTED = listed()


def in_detail(description: str) -> dict[str, Any]:
    """The metadata of a field only the detail of a record shows."""
    return {"shown": "detail", "description": description}


@dataclass(frozen=True, kw_only=True)
class UsageRecord:
    """One call through the proxy. The shown fields come in the order the API and the CSV show them:
    the contract's fields first, then this project's additions (a `Tokens` field shows as its kinds).
    Defaults are what a record stored before the field existed means."""

    id: str = field(metadata=LISTED)
    model: str | None = field(default=None, metadata=LISTED)
    tokens: Tokens = field(default_factory=Tokens, metadata=LISTED)
    cost_cents: Cents | None = field(
        default=None, metadata=listed("US cents, decimal string with 6 decimals; null if unknown")
    )
    duration_ms: int | None = field(default=None, metadata=LISTED)
    status_code: int = field(metadata=LISTED)
    proxy_endpoint_id: str = field(metadata=LISTED)
    requested_at: datetime = field(metadata=LISTED)
    ttfb_ms: int | None = field(default=None, metadata=LISTED)
    stream: bool = field(default=False, metadata=LISTED)
    stop_reason: str | None = field(default=None, metadata=LISTED)
    request_id: str | None = field(default=None, metadata=LISTED)
    cost_unknown: bool = field(default=False, metadata=LISTED)
    api_key_id: str | None = field(
        default=None, metadata=listed("Fingerprint of the Anthropic credential that paid")
    )
    api_key_hint: str | None = field(default=None, metadata=LISTED)
    service_tier: str | None = field(default=None, metadata=LISTED)
    server_tool_use: dict[str, int] = field(default_factory=dict, metadata=LISTED)
    error_type: str | None = field(default=None, metadata=LISTED)
    complete: bool = field(default=True, metadata=LISTED)
    price_snapshot: str | None = field(default=None, metadata=LISTED)
    cost_without_cache_cents: Cents | None = field(
        default=None,
        metadata=listed("What the call would have cost without prompt caching (cents), null if unknown"),
    )
    usage_known: bool = field(default=True, metadata=listed("False when the reply carried no readable usage"))
    session_id: str | None = field(
        default=None,
        metadata=listed(
            "The Claude Code session of the call (`x-claude-code-session-id`, else the session in "
            "`metadata.user_id`); null for other clients"
        ),
    )
    agent: Literal["main", "subagent"] | None = field(
        default=None, metadata=listed("Which agent of the session made the call; null when it cannot be told")
    )
    agent_id: str | None = field(
        default=None, metadata=listed("The subagent run (`x-claude-code-agent-id`); null otherwise")
    )
    speed: str | None = field(
        default=None, metadata=listed('`usage.speed` as Anthropic reported it: "standard", "fast"')
    )
    inference_geo: str | None = field(
        default=None, metadata=listed('Where inference ran (`usage.inference_geo`): "us", ...')
    )
    output_tokens_estimated: bool = field(
        default=False,
        metadata=listed(
            "The stream ended before Anthropic's final count: the output tokens (and the cost) are "
            "estimated from the text, thinking and tool input relayed"
        ),
    )
    price_version: str | None = field(
        default=None,
        metadata=listed(
            "The price data the cost was computed with; null on records priced before it was kept"
        ),
    )
    developer_id: str | None = field(
        default=None,
        metadata=listed(
            "Fingerprint of the Claude Code developer (account, else device) in `metadata.user_id`; "
            "null for other clients"
        ),
    )
    bodies_missing: bool = field(
        default=False,
        metadata=in_detail(
            "The proxy could not store the bodies (storage was unavailable); tokens and cost are kept"
        ),
    )
    # Stored, never shown.
    tenant_id: str
    path: str = "/v1/messages"
    # Until when its bodies are kept (epoch seconds; None: none kept), and the session base they are
    # compressed against (shared/bodies/store.py).
    bodies_expire_at: int | None = None
    bodies_base: str | None = None
    request_body_size: int = 0
    response_body_size: int = 0

    @property
    def web_search_requests(self) -> int:
        return self.server_tool_use.get("web_search_requests", 0)


@dataclass(frozen=True)
class ShownField:
    """A field as the API shows it: its name, its JSON type and what it means."""

    name: str
    type: Any
    description: str | None


# What the API shows of a domain type: money as its 6-decimal string, times as ISO text.
_WIRE_TYPES: dict[Any, Any] = {Cents: str, Cents | None: str | None, datetime: str}


@cache
def record_types() -> dict[str, Any]:
    """`UsageRecord`'s field types, resolved (the module's annotations are strings)."""
    return get_type_hints(UsageRecord)


def shown_fields(shown: Shown) -> tuple[ShownField, ...]:
    """The fields the API shows in a record's list view (`list`) or only in its detail (`detail`), in
    order; a `Tokens` field as one integer field a token kind."""
    result: list[ShownField] = []
    for spec in fields(UsageRecord):
        if spec.metadata.get("shown") != shown:
            continue
        kind = record_types()[spec.name]
        if kind is Tokens:
            result += [ShownField(name, int, None) for name in TOKEN_KINDS]
        else:
            result.append(ShownField(spec.name, _WIRE_TYPES.get(kind, kind), spec.metadata["description"]))
    return tuple(result)


def _json_value(value: Any) -> Any:
    """One field's value as JSON has it: how the API shows it and the table stores it."""
    if isinstance(value, Cents):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def record_view(record: UsageRecord, shown: Shown | None = "list") -> dict[str, Any]:
    """The record's fields the API shows (`list`: the list and the CSV export; `detail`: the rest of
    the detail view), or every field (None: what the table stores), as JSON values, in order."""
    view: dict[str, Any] = {}
    for spec in fields(UsageRecord):
        if shown is None or spec.metadata.get("shown") == shown:
            value = getattr(record, spec.name)
            if isinstance(value, Tokens):
                view.update(value.by_kind())
            else:
                view[spec.name] = _json_value(value)
    return view


def literal_values(kind: Any) -> tuple[Any, ...]:
    """The values a `Literal[...]` (or `Literal[...] | None`) type allows; () for other types."""
    if getattr(kind, "__origin__", None) is Literal:
        return get_args(kind)
    return tuple(value for arg in get_args(kind) for value in literal_values(arg))
