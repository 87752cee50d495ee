"""boto3 clients, made once per process (Lambda keeps them warm across invocations).

`AWS_ENDPOINT_URL` (honoured by boto3 itself) points them at the local moto server in `make dev`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@lru_cache(maxsize=8)
def table(name: str) -> Any:
    # Building a Table resource re-reads its model (about 1 ms of CPU): once per name, not per call.
    return dynamodb().Table(name)


def dynamodb_client() -> Any:
    """The resource's own client: it takes and returns plain Python values, transactions included."""
    return dynamodb().meta.client


@lru_cache(maxsize=1)
def dynamodb_typed() -> Any:
    """DynamoDB's own client, values typed as the API has them (`{"N": "1"}`): without the resource
    layer's conversions (a quarter of a small call's CPU), for hot calls on simple items."""
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs_without_retries() -> Any:
    """For callers that retry themselves, briefly: the proxy holds a caller's response open meanwhile."""
    return boto3.client(
        "sqs",
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=5,
            max_pool_connections=32,
        ),
    )


@lru_cache(maxsize=1)
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)
