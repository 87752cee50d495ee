"""The one definition of the table, queue and bucket.

The CDK stack (infra/) builds its resources from these; the local stack (devstack/rehearsal.py)
builds its own from the synthesized template. The names are the local stack's only: in AWS,
CloudFormation names the table, queues and bucket (a retried or second deploy never collides with a
leftover), and every function reads the real names from its environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableDefinition:
    name: str
    partition_key: str
    sort_key: str
    ttl_attribute: str
    indexes: tuple[Index, ...] = field(default_factory=tuple)

    def key_attributes(self) -> list[str]:
        names = [self.partition_key, self.sort_key]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return list(dict.fromkeys(names))  # each once: the indexes share their sort key

    def create_table_arguments(self, table_name: str) -> dict[str, Any]:
        """DynamoDB CreateTable's arguments for this table: what the benches' in-process moto uses
        (the local stack and the tests create it from the synthesized template instead)."""

        def keys(partition: str, sort: str) -> list[dict[str, str]]:
            return [
                {"AttributeName": partition, "KeyType": "HASH"},
                {"AttributeName": sort, "KeyType": "RANGE"},
            ]

        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes()
            ],
            "KeySchema": keys(self.partition_key, self.sort_key),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": keys(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ],
        }


@dataclass(frozen=True)
class QueueDefinition:
    name: str
    visibility_timeout_seconds: int
    max_receive_count: int
    dead_letter_name: str
    # Set on the queue and its dead-letter queue: SQS takes up to 1 MiB a message, but only when the
    # queue says so (CreateQueue's default is 256 KiB), and the usage message carries compressed bodies
    # up to `inline_body_limit`.
    max_message_bytes: int = 1_048_576


@dataclass(frozen=True)
class BucketDefinition:
    name: str
    bodies_prefix: str


# Single-table design; see docs/data-model.md for the item layout.
TABLE = TableDefinition(
    name="codecosts",
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expires_at",
    # Every index sorts on one attribute, `gsisk`: a usage record, in all four, carries its sort key
    # (USAGE#<id>) once, which keeps a Claude Code call's item under 1 KB (a write of one unit in the
    # table and in each index, not two); any other item is in one index only.
    indexes=(
        # Usage by proxy endpoint: gsi1pk = TENANT#<t>#EP#<endpoint id>#<shard>
        Index("gsi1", "gsi1pk", "gsisk"),
        # Usage by the Anthropic credential that paid: gsi2pk = TENANT#<t>#CRED#<api_key_id>#<shard>
        Index("gsi2", "gsi2pk", "gsisk"),
        # Claude Code sessions: a session's usage (gsi3pk = TENANT#<t>#SESSION#<session id>) and the
        # tenant's sessions by last call (gsi3pk = TENANT#<t>#SESSIONS#<shard>, gsisk = <last call at>#<id>)
        Index("gsi3", "gsi3pk", "gsisk"),
        # Claude Code developers: a developer's usage (gsi4pk = TENANT#<t>#DEV#<developer id>) and the
        # tenant's developers by last call (gsi4pk = TENANT#<t>#DEVELOPERS, gsisk = <last call at>#<id>)
        Index("gsi4", "gsi4pk", "gsisk"),
    ),
)

INGEST_TIMEOUT_SECONDS = 30
INGEST_MEMORY_MB = 512  # its vCPU share (memory / 1,769 MB) sets how fast a batch's CPU goes

USAGE_QUEUE = QueueDefinition(
    name="codecosts-usage",
    visibility_timeout_seconds=6 * INGEST_TIMEOUT_SECONDS,
    max_receive_count=5,
    dead_letter_name="codecosts-usage-dlq",
)

BODIES_BUCKET = BucketDefinition(name="codecosts-bodies", bodies_prefix="bodies/")

# The KMS key that encrypts tenants' Anthropic admin keys, by its alias (the stack creates both; the
# local stack creates them in the embedded AWS).
ADMIN_KEY_KMS_ALIAS = "alias/codecosts-anthropic-admin-keys"

# When the daily bill-check sync runs (UTC hour, minute): EventBridge Scheduler in the stack, a timer
# in the local stack. After midnight UTC, once Anthropic's reports hold the previous day.
RECONCILE_AT_UTC = (3, 30)
