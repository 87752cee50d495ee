"""Creates the table, queue, bucket and KMS key in the embedded AWS from the shared definitions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from shared.resources import ADMIN_KEY_KMS_ALIAS, BODIES_BUCKET, TABLE, USAGE_QUEUE


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    queue_url: str
    dead_letter_queue_url: str
    bucket: str


def create_resources(endpoint_url: str | None = None, region: str = "us-east-1") -> LocalResources:
    """Idempotent: an existing table, queue or bucket is kept as it is."""
    options: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    dynamodb = boto3.client("dynamodb", **options)
    if TABLE.name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=TABLE.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in TABLE.key_attributes()
            ],
            KeySchema=[
                {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
                {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in TABLE.indexes
            ],
        )
        dynamodb.update_time_to_live(
            TableName=TABLE.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
        )
    sqs = boto3.client("sqs", **options)
    dead_letter_url = sqs.create_queue(QueueName=USAGE_QUEUE.dead_letter_name)["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=USAGE_QUEUE.name,
        Attributes={
            "VisibilityTimeout": str(USAGE_QUEUE.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dead_letter_arn,
                    "maxReceiveCount": str(USAGE_QUEUE.max_receive_count),
                }
            ),
        },
    )["QueueUrl"]
    s3 = boto3.client("s3", **options)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if BODIES_BUCKET.name not in existing:
        s3.create_bucket(Bucket=BODIES_BUCKET.name)
    kms = boto3.client("kms", **options)
    aliases = {alias["AliasName"] for alias in kms.list_aliases().get("Aliases", [])}
    if ADMIN_KEY_KMS_ALIAS not in aliases:
        key = kms.create_key(Description="Codecosts: tenants' Anthropic admin keys")["KeyMetadata"]
        kms.create_alias(AliasName=ADMIN_KEY_KMS_ALIAS, TargetKeyId=key["KeyId"])
    return LocalResources(TABLE.name, queue_url, dead_letter_url, BODIES_BUCKET.name)
