"""Key layout of the single table (see docs/data-model.md). Every key is built here and only here."""

from __future__ import annotations


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def endpoint_sk(endpoint_id: str) -> str:
    return f"EP#{endpoint_id}"


def slug_pk(slug: str) -> str:
    return f"SLUG#{slug}"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def api_key_hash_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def usage_sk(usage_id: str) -> str:
    return f"USAGE#{usage_id}"


def usage_by_endpoint_pk(tenant_id: str, endpoint_id: str) -> str:
    return f"TENANT#{tenant_id}#EP#{endpoint_id}"


def usage_by_credential_pk(tenant_id: str, api_key_id: str) -> str:
    return f"TENANT#{tenant_id}#CRED#{api_key_id}"


def usage_by_session_pk(tenant_id: str, session_id: str) -> str:
    return f"TENANT#{tenant_id}#SESSION#{session_id}"


def session_sk(session_id: str) -> str:
    """The per-session aggregate item (under the tenant's pk)."""
    return f"SESSION#{session_id}"


def sessions_pk(tenant_id: str) -> str:
    """gsi3 partition of the tenant's session aggregates, sorted by `session_order_sk`."""
    return f"TENANT#{tenant_id}#SESSIONS"


def session_order_sk(last_at: str, session_id: str) -> str:
    return f"{last_at}#{session_id}"


def usage_by_developer_pk(tenant_id: str, developer_id: str) -> str:
    return f"TENANT#{tenant_id}#DEV#{developer_id}"


def developer_sk(developer_id: str) -> str:
    """A Claude Code developer of the tenant (name, first and last call), under the tenant's pk."""
    return f"DEVELOPER#{developer_id}"


def developers_pk(tenant_id: str) -> str:
    """gsi4 partition of the tenant's developers, sorted by `developer_order_sk`."""
    return f"TENANT#{tenant_id}#DEVELOPERS"


def developer_order_sk(last_seen_at: str, developer_id: str) -> str:
    return f"{last_seen_at}#{developer_id}"


def developer_day_aggregate_sk(day: str, endpoint_id: str, payer: str) -> str:
    """Spend per UTC day, endpoint and payer (`developer_payer` or `credential_payer`): read by day
    range for the summary's spend by developer."""
    return f"AGG#V#{day}#{endpoint_id}#{payer}"


def developer_day_aggregates_range(first_day: str | None, last_day: str | None) -> tuple[str, str]:
    """The sort key range (both ends inclusive) of those rows over a range of days."""
    return f"AGG#V#{first_day or ''}", f"AGG#V#{last_day or '9999-12-31'}#~"


def developer_payer(developer_id: str) -> str:
    return f"DEV:{developer_id}"


def credential_payer(api_key_id: str | None) -> str:
    """A call without a developer is put down to the Anthropic credential that paid (`-`: none)."""
    return f"KEY:{api_key_id or '-'}"


def endpoint_month_sk(endpoint_id: str, month: str) -> str:
    """Spend of one proxy endpoint in one UTC month (`2026-03`): what a budget is checked against."""
    return f"AGG#MONTH#{endpoint_id}#{month}"


def day_aggregate_sk(day: str, endpoint_id: str, model: str) -> str:
    """Read by day range for the whole tenant: days x endpoints x models rows, never records."""
    return f"AGG#D#{day}#{endpoint_id}#{model}"


def endpoint_aggregate_sk(endpoint_id: str, day: str, model: str) -> str:
    """Read by day range for one endpoint."""
    return f"AGG#E#{endpoint_id}#{day}#{model}"


def audit_sk(entry_id: str) -> str:
    return f"AUDIT#{entry_id}"


SINGLETON_SK = "_"


def rate_counter_pk(scope: str, subject: str) -> str:
    return f"RATE#{scope}#{subject}"


def anthropic_admin_key_sk() -> str:
    """The tenant's Anthropic admin key (KMS ciphertext) under its pk: one per tenant."""
    return "ANTHROPIC_ADMIN_KEY"


def bill_sync_sk() -> str:
    """When the tenant's billed data was last synced from the Admin API, and how the last attempt ended."""
    return "BILL#SYNC"


def billed_usage_sk(
    day: str, anthropic_api_key_id: str, model: str, context_window: str, speed: str, inference_geo: str
) -> str:
    """One row of Anthropic's usage report: a UTC day, an Anthropic API key, a model, a context window,
    a speed and an inference geography."""
    return f"BILL#U#{day}#{anthropic_api_key_id}#{model}#{context_window}#{speed}#{inference_geo}"


def billed_cost_sk(day: str, model: str) -> str:
    """Anthropic's cost report for a UTC day and model (`-` for costs without a model: server tools)."""
    return f"BILL#C#{day}#{model}"


def anthropic_key_sk(anthropic_api_key_id: str) -> str:
    """An API key of the tenant's Anthropic organization, as its key list names it."""
    return f"BILL#K#{anthropic_api_key_id}"


ANTHROPIC_ADMIN_KEYS_PK = "ANTHROPIC_ADMIN_KEYS"
"""gsi1 partition listing the tenants that set an admin key (gsi1sk = tenant id): the daily sync's list."""


def alert_settings_sk() -> str:
    """The tenant's alert settings (webhook, thresholds): one item per tenant."""
    return "ALERTS"


def alert_sent_sk(alert_key: str, channel: str) -> str:
    """Marks one alert (`budget#<endpoint>#<month>#80`, `drift#<day>`, ...) as sent on one channel."""
    return f"ALERT#SENT#{alert_key}#{channel}"
