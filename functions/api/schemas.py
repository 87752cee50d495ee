"""Request bodies and response resources, as the contract names them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Surrounding whitespace is dropped before the length is checked: a blank name is refused.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class NameBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "My laptop"}]})

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


class ApiKey(BaseModel):
    id: str
    name: str
    key_prefix: str
    last_used_at: str | None
    created_at: str


class CreatedApiKey(BaseModel):
    id: str
    name: str
    key: str = Field(description="The secret; shown this once only")
    key_prefix: str
    created_at: str


class Profile(BaseModel):
    id: str
    email: str | None
    name: str | None
    created_at: str
    updated_at: str


class AuditLogEntry(BaseModel):
    id: str
    user_id: str
    org_id: str | None
    action: str
    resource_type: str
    resource_id: str
    metadata: str | None = Field(description="A JSON object as a string, or null")
    created_at: str


class UsageRecord(BaseModel):
    id: str
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_cents: str | None = Field(description="US cents, decimal string with 6 decimals; null if unknown")
    duration_ms: int | None
    status_code: int
    proxy_endpoint_id: str
    requested_at: str
    ttfb_ms: int | None
    stream: bool
    stop_reason: str | None
    request_id: str | None
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cost_unknown: bool
    api_key_id: str | None = Field(description="Fingerprint of the Anthropic credential that paid")
    api_key_hint: str | None
    service_tier: str | None
    server_tool_use: dict[str, int]
    error_type: str | None
    complete: bool
    price_snapshot: str | None
    cost_without_cache_cents: str | None = Field(
        description="What the call would have cost without prompt caching (cents), null if unknown"
    )
    usage_known: bool = Field(description="False when the reply carried no readable usage")


class UsageDetail(UsageRecord):
    request_body: str | None
    response_body: str | None


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


class UsageSummary(BaseModel):
    totalCostCents: float
    totalRequests: int
    totalInputTokens: int
    totalOutputTokens: int
    totalCacheCreationInputTokens: int
    totalCacheReadInputTokens: int
    byModel: list[ModelSummary]
    byDay: list[DaySummary]
    # This project's additions (docs/api.md).
    totalCacheCreation5mInputTokens: int
    totalCacheCreation1hInputTokens: int
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
