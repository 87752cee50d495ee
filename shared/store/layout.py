"""Key layout of the single table (see docs/data-model.md). Every key is built here and only here."""

from __future__ import annotations

import hashlib

# Per-call items (records, their bodies, session rows) are spread over this many partition keys per
# tenant: one key takes about 1,000 write units a second, and an organisation at 200 calls a second
# writes more than that to its records alone (docs/benchmarks.md, "One tenant at 200 calls/s").
# Reads of a whole tenant query every shard and merge (shared/store/shards.py). Changing it moves
# where new items go: items written under the old count are no longer read.
USAGE_SHARDS = 4

# The sort key attribute of every index (shared/resources.py): a usage record carries it once.
INDEX_SORT_KEY = "gsisk"


def shard_of(identifier: str) -> int:
    """A stable shard for an id: every process puts the same id in the same shard. A real hash, not a
    CRC: ids that differ in a few digits (session ids, endpoint ids) must still spread over all shards."""
    digest = hashlib.blake2b(identifier.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % USAGE_SHARDS


def _in_shard(prefix: str, identifier: str) -> str:
    return f"{prefix}#{shard_of(identifier)}"


def _every_shard(prefix: str) -> list[str]:
    """The partition keys of every shard of `prefix`: what a read of the whole list queries."""
    return [f"{prefix}#{shard}" for shard in range(USAGE_SHARDS)]


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


def usage_pk(tenant_id: str, usage_id: str) -> str:
    """The record's partition: the tenant's shard for this id."""
    return _in_shard(f"TENANT#{tenant_id}#U", usage_id)


def usage_pks(tenant_id: str) -> list[str]:
    return _every_shard(f"TENANT#{tenant_id}#U")


def usage_by_endpoint_pk(tenant_id: str, endpoint_id: str, usage_id: str) -> str:
    """gsi1: one endpoint's records, sharded like the records (one endpoint may carry all calls)."""
    return _in_shard(f"TENANT#{tenant_id}#EP#{endpoint_id}", usage_id)


def usage_by_endpoint_pks(tenant_id: str, endpoint_id: str) -> list[str]:
    return _every_shard(f"TENANT#{tenant_id}#EP#{endpoint_id}")


def usage_by_credential_pk(tenant_id: str, api_key_id: str, usage_id: str) -> str:
    """gsi2: one API key's records, sharded like the records."""
    return _in_shard(f"TENANT#{tenant_id}#CRED#{api_key_id}", usage_id)


def usage_by_credential_pks(tenant_id: str, api_key_id: str) -> list[str]:
    return _every_shard(f"TENANT#{tenant_id}#CRED#{api_key_id}")


def usage_by_session_pk(tenant_id: str, session_id: str) -> str:
    """gsi3: one session's records. Not sharded: one session makes one call at a time."""
    return f"TENANT#{tenant_id}#SESSION#{session_id}"


def session_pk(tenant_id: str, session_id: str) -> str:
    """The partition of a session's aggregate item: the tenant's shard for this session."""
    return _in_shard(f"TENANT#{tenant_id}#S", session_id)


def session_sk(session_id: str) -> str:
    """The per-session aggregate item (under `session_pk`)."""
    return f"SESSION#{session_id}"


def sessions_pk(tenant_id: str, session_id: str) -> str:
    """gsi3 partition listing the session aggregates of one shard, sorted by `session_order_sk`."""
    return _in_shard(f"TENANT#{tenant_id}#SESSIONS", session_id)


def sessions_pks(tenant_id: str) -> list[str]:
    return _every_shard(f"TENANT#{tenant_id}#SESSIONS")


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


def aggregate_pk(tenant_id: str, endpoint_id: str) -> str:
    """The partition of an endpoint's aggregate rows (day, month): the tenant's shard for the endpoint.
    One endpoint is held to a few calls a second by its rate limit, so spreading endpoints spreads the
    aggregates' writes."""
    return _in_shard(f"TENANT#{tenant_id}#A", endpoint_id)


def aggregate_pks(tenant_id: str) -> list[str]:
    return _every_shard(f"TENANT#{tenant_id}#A")


def day_aggregate_sk(day: str, endpoint_id: str, model: str) -> str:
    """Read by day range for the whole tenant: days x endpoints x models rows, never records."""
    return f"AGG#D#{day}#{endpoint_id}#{model}"


def endpoint_aggregate_sk(endpoint_id: str, day: str, model: str) -> str:
    """Read by day range for one endpoint (a month of them: the spend its budget is checked against)."""
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
"""gsi1 partition listing the tenants that set an admin key (gsisk = tenant id): the daily sync's list."""


def alert_settings_sk() -> str:
    """The tenant's alert settings (webhook, thresholds): one item per tenant."""
    return "ALERTS"


def alert_sent_sk(alert_key: str, channel: str) -> str:
    """Marks one alert (`budget#<endpoint>#<month>#80`, `drift#<day>`, ...) as sent on one channel."""
    return f"ALERT#SENT#{alert_key}#{channel}"
