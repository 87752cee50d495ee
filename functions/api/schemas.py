"""Request bodies and response resources, as the contract names them. The usage record's, and the
token counts of summaries and sessions, are built from the record's one definition
(shared/usage_record.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

from shared.bodies.retention import ALLOWED_RETENTION_DAYS
from shared.models import Scope
from shared.usage_record import TOKEN_KINDS, Shown, shown_fields, summary_total_name


def _not_blank(name: str) -> str:
    stripped = name.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


# 1..100 characters as sent (what the OpenAPI document says), then surrounding whitespace is dropped;
# a blank name is refused.
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_not_blank)]


def _allowed_retention(days: int) -> int:
    # The bucket has one lifecycle rule per allowed value: another could not be honoured.
    if days not in ALLOWED_RETENTION_DAYS:
        raise ValueError("Expected one of " + ", ".join(str(value) for value in ALLOWED_RETENTION_DAYS))
    return days


BodyRetentionDays = Annotated[int, Field(strict=True), AfterValidator(_allowed_retention)]


class NameBody(BaseModel):
    # An unknown field is a mistake the caller should hear about, not something silently dropped.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "My laptop"}]})

    name: Name


class Ok(BaseModel):
    ok: Literal[True] = True


class Health(BaseModel):
    status: Literal["ok"]
    dbLatencyMs: float


class HealthFailure(BaseModel):
    status: Literal["error"]
    error: str


class ProxyEndpoint(BaseModel):
    id: str
    name: str
    slug: str
    url: str = Field(description="Set as ANTHROPIC_BASE_URL")
    created_at: str
    monthly_budget_cents: int | None = Field(
        description="Monthly budget in US cents (UTC calendar month); null when the endpoint has none"
    )
    budget_action: Literal["notify", "block"] | None = Field(
        description="`notify`: only flagged (`budget_exceeded`); `block`: the proxy refuses new calls "
        "with a 429 once the month's spend reaches the budget; null without a budget"
    )
    month_spend_cents: str = Field(
        description="Cost of this endpoint's calls in the current UTC month (cents, 6 decimals)"
    )
    budget_exceeded: bool = Field(description="A budget is set and this month's spend has reached it")
    body_retention_days: int = Field(
        description="Days the endpoint's request and response bodies are kept (0: never stored)"
    )


class ProxyEndpointUpdate(BaseModel):
    """Only the fields sent change; `monthly_budget_cents: null` removes the budget. An unknown field
    is a 400 (nothing changes), as in every request body: a typo must not pass for a change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"monthly_budget_cents": 5000, "budget_action": "block"}]},
    )

    name: Name | None = None
    # strict: a wrong JSON type (`false`, `"5000"`) is a 400, never quietly coerced to a number.
    monthly_budget_cents: int | None = Field(default=None, ge=0, le=10**12, strict=True)
    budget_action: Literal["notify", "block"] | None = None
    body_retention_days: BodyRetentionDays | None = Field(
        default=None,
        description="Days bodies are kept, one of "
        + ", ".join(str(days) for days in ALLOWED_RETENTION_DAYS)
        + " (0: never stored); applies to calls from now on",
    )


_SCOPE_DESCRIPTION = (
    "`read`: usage, summaries, sessions, export; `write`: also proxy endpoints, budgets, profile; "
    "`admin`: also API keys"
)


class ApiKey(BaseModel):
    id: str
    name: str
    key_prefix: str
    scope: Scope = Field(description=_SCOPE_DESCRIPTION)
    last_used_at: str | None
    created_at: str


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    scope: Scope = Field(default="read", description=_SCOPE_DESCRIPTION + "; never wider than the caller's")


class CreatedApiKey(BaseModel):
    id: str
    name: str
    key: str = Field(description="The secret; shown this once only")
    key_prefix: str
    scope: Scope
    created_at: str


class Profile(BaseModel):
    id: str
    email: str | None
    name: str | None
    created_at: str
    updated_at: str


class AuditActor(BaseModel):
    type: Literal["user", "api_key"]
    user_id: str
    api_key_id: str | None = Field(description="The Codecosts API key that acted; null for a session")
    api_key_name: str | None


class AuditLogEntry(BaseModel):
    id: str
    user_id: str
    org_id: str | None
    action: str
    resource_type: str
    resource_id: str
    metadata: str | None = Field(description="A JSON object as a string, or null")
    created_at: str
    actor: AuditActor | None = Field(description="Who acted; null on entries from before actors were kept")


def _fields(shown: Shown) -> dict[str, Any]:
    """The record's fields the API shows (shared/usage_record.py), as pydantic field definitions."""
    return {field.name: (field.type, Field(description=field.description)) for field in shown_fields(shown)}


def _token_fields(name: Callable[[str], str] = str) -> dict[str, Any]:
    """One integer field a token kind, named `name(kind)`."""
    return {name(kind): (int, ...) for kind in TOKEN_KINDS}


UsageRecord = create_model("UsageRecord", **_fields("list"))
UsageDetail = create_model(
    "UsageDetail",
    __base__=UsageRecord,
    request_body=(str | None, ...),
    response_body=(str | None, ...),
    **_fields("detail"),
)


class UsageBodiesFilter(BaseModel):
    """The `/api/usage` filters, as a JSON body: the calls whose bodies to delete (all, without any)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"proxy_endpoint_id": "01J...", "to": "2026-11-01"}]},
    )

    model: str | None = Field(default=None, max_length=200, description="Model name prefix")
    from_: str | None = Field(default=None, alias="from", max_length=40, description="Inclusive")
    to: str | None = Field(default=None, max_length=40, description="Exclusive")
    proxy_endpoint_id: str | None = Field(default=None, max_length=40)
    api_key_id: str | None = Field(default=None, max_length=40)
    session_id: str | None = Field(default=None, max_length=128)
    developer_id: str | None = Field(default=None, max_length=40)


class BodiesDeleted(BaseModel):
    deleted: int = Field(description="Calls whose bodies were deleted (their records stay)")


class ModelSummary(BaseModel):
    model: str
    cost: float = Field(description="Cents")
    requests: int
    tokens: int


class DaySummary(BaseModel):
    date: str
    cost: float = Field(description="Cents")
    requests: int
    tokens: int


class DayModelSummary(BaseModel):
    date: str
    model: str
    cost: float = Field(description="Cents")
    requests: int
    tokens: int


class EndpointSummary(BaseModel):
    proxy_endpoint_id: str
    cost: float = Field(description="Cents")
    requests: int
    tokens: int


class DeveloperSummary(BaseModel):
    developer_id: str | None = Field(description="null: calls without a Claude Code developer")
    name: str | None = Field(description="The name the tenant gave the developer; null when unnamed")
    api_key_id: str | None = Field(
        description="For calls without a developer: the Anthropic credential that paid (null otherwise)"
    )
    api_key_hint: str | None = Field(description="That credential's kind and last four characters")
    cost: float = Field(description="Cents")
    requests: int
    tokens: int


class Developer(BaseModel):
    developer_id: str = Field(description="Fingerprint of the Claude Code account, else device")
    name: str | None = Field(description="Set with PUT /api/developers/{developer_id}; null until then")
    first_seen_at: str = Field(description="When its first call was received")
    last_seen_at: str = Field(description="When its latest call was received")


class _UsageSummary(BaseModel):
    totalCostCents: float
    totalRequests: int
    byModel: list[ModelSummary]
    byDay: list[DaySummary]
    # This project's additions (docs/api.md).
    totalCostWithoutCacheCents: float = Field(
        description="What the same calls would have cost with every cached token billed as plain input"
    )
    cacheSavingsCents: float = Field(
        description="totalCostWithoutCacheCents - totalCostCents over calls with a known cost (negative "
        "when cache writes were never read back enough to pay for themselves)"
    )
    cacheHitRatio: float = Field(
        description="cache reads / (input + cache writes + cache reads) tokens; 0 when there is no input"
    )
    costUnknownRequests: int = Field(description="Calls whose cost is unknown (model not in the price list)")
    byDayModel: list[DayModelSummary]
    byEndpoint: list[EndpointSummary]
    byDeveloper: list[DeveloperSummary] = Field(
        description="Spend by Claude Code developer; calls without one by the Anthropic credential that paid"
    )


# With a total of each token kind: `totalInputTokens`, ...
UsageSummary = create_model("UsageSummary", __base__=_UsageSummary, **_token_fields(summary_total_name))


class _SessionSummary(BaseModel):
    session_id: str
    first_at: str = Field(description="When its first call was received")
    last_at: str = Field(description="When its latest call was received")
    requests: int
    tokens: int = Field(description="input + output + cache writes + cache reads")
    cost_cents: str = Field(description="US cents, 6 decimals; calls of unknown cost add 0")
    cost_unknown_requests: int
    cost_without_cache_cents: str = Field(
        description="The same calls priced with every cached token as plain input (cents)"
    )
    cache_savings_cents: str = Field(
        description="cost_without_cache_cents - cost_cents; negative when caching cost more than it saved"
    )
    cache_hit_ratio: float = Field(description="cache reads / (input + cache writes + cache reads) tokens")
    models: list[str]
    proxy_endpoint_ids: list[str]
    subagent_requests: int = Field(description="Calls made by subagents (the rest: the main agent)")
    subagent_cost_cents: str
    subagent_runs: int = Field(description="Distinct subagent runs (`x-claude-code-agent-id` values)")
    developer_id: str | None = Field(
        description="The Claude Code developer who ran it (GET /api/developers names them); null if unknown"
    )


# With each token kind's count.
SessionSummary = create_model("SessionSummary", __base__=_SessionSummary, **_token_fields())


class _Unread1hWrites(BaseModel):
    unread_1h_cache_writes: int = Field(
        description="Calls whose 1-hour cache write was, at least in part, not read back within its hour "
        "(see docs/sessions.md for the exact rule)"
    )
    unread_1h_cache_write_tokens: int = Field(description="Tokens of those writes never read back")
    unread_1h_cache_write_extra_cents: str = Field(
        description="What those tokens cost above plain input (the 1-hour write premium paid for nothing)"
    )
    pending_1h_cache_write_tokens: int = Field(
        description="1-hour writes not read back yet whose hour has not ended: not counted as unread"
    )


SessionDetail = create_model("SessionDetail", __base__=(SessionSummary, _Unread1hWrites))


class PriceTier(BaseModel):
    above_input_tokens: int = Field(
        description="Applies to the whole call when its prompt is over this many tokens"
    )
    usd: str


class Price(BaseModel):
    usd: str = Field(
        description="US dollars per million tokens (`web_searches_kcount`: per thousand searches)"
    )
    tiers: list[PriceTier]


class PriceSheet(BaseModel):
    model: str
    model_id: str = Field(description="The price data's id for the model (`claude-sonnet-4-0`)")
    name: str | None
    data_version: str = Field(
        description="The price data costs are computed with now (a record's `price_version`)"
    )
    data_date: str | None = Field(description="The newest date from which a price in the data applies")
    adjustments_checked: str = Field(description="When the adjustments to the data were last checked")
    source: Literal["genai-prices", "codecosts override"]
    prices: dict[str, Price] = Field(
        description="By price key: `input_mtok`, `output_mtok`, `cache_write_mtok`..."
    )
    fast_prices: dict[str, Price] | None = Field(
        description='Prices of `speed: "fast"` calls; null: none known'
    )
    multipliers: dict[str, str] = Field(
        description="`us_only_inference`: on token prices when `inference_geo` is us"
    )
