"""Request counters shared by every instance: fixed one-minute windows in DynamoDB.

Each request is one atomic conditional `UpdateItem` (ADD 1 while below the limit) on the counter of
its scope and window; the item expires by TTL. If the counter store fails, the request is served
(fail open): an outage of the limiter must not become an outage of the proxy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared import aws
from shared.observability import MetricUnit, logger, metrics
from shared.store import layout
from shared.store.base import Store

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimit:
    scope: str  # e.g. "ip", "proxy", "count_tokens"
    limit: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window resets, when refused
    count: int | None = None  # the shared count after this request, when the store said it


class RateLimiter(Store):
    def __init__(self, table_name: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(table_name)
        self.clock = clock

    def window(self) -> int:
        return int(self.clock() // WINDOW_SECONDS) * WINDOW_SECONDS

    def _key(self, rule: RateLimit, subject: str, window: int) -> dict[str, Any]:
        return {"pk": {"S": layout.rate_counter_pk(rule.scope, subject)}, "sk": {"S": str(window)}}

    def hit(self, rule: RateLimit, subject: str) -> Decision:
        """Counts the request if the limit allows it: exact, one conditional write."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        # The plain client (typed values): these writes are on every proxied call's path.
        client = aws.dynamodb_typed()
        try:
            response = client.update_item(
                TableName=self.table_name,
                Key=self._key(rule, subject, window),
                UpdateExpression="ADD #count :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(rule.limit)},
                    ":expires": {"N": str(window + 2 * WINDOW_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return Decision(False, max(1, math.ceil(window + WINDOW_SECONDS - now)))
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "rate limit counter unavailable; serving the request",
                extra={"scope": rule.scope, "error": type(error).__name__},
            )
            metrics.add_metric(name="RateLimiterFailOpen", unit=MetricUnit.Count, value=1)
            return Decision(True)
        return Decision(True, count=int(response["Attributes"]["count"]["N"]))

    def once_per(self, scope: str, subject: str, seconds: int) -> Decision:
        """At most one request per `seconds`, whatever the clock's minute: one conditional write of
        the last allowed request's time (a fixed window would let two through a second apart, across
        its edge). Refused: retry after the time left. Fails open, as `hit`."""
        now = self.clock()
        client = aws.dynamodb_typed()
        try:
            client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": layout.rate_counter_pk(scope, subject)}, "sk": {"S": "last"}},
                UpdateExpression="SET #at = :now, expires_at = :expires",
                ConditionExpression="attribute_not_exists(#at) OR #at <= :since",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={
                    ":now": {"N": repr(now)},
                    ":since": {"N": repr(now - seconds)},
                    ":expires": {"N": str(math.ceil(now) + 2 * seconds)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException as error:
            last = float(error.response.get("Item", {}).get("at", {}).get("N", now))
            return Decision(False, max(1, math.ceil(last + seconds - now)))
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "rate limit counter unavailable; serving the request",
                extra={"scope": scope, "error": type(error).__name__},
            )
            metrics.add_metric(name="RateLimiterFailOpen", unit=MetricUnit.Count, value=1)
            return Decision(True)
        return Decision(True)

    def add(self, rule: RateLimit, subject: str, window: int) -> int | None:
        """Counts a request already let through (see functions/proxy/limits.py); the new count."""
        try:
            response = aws.dynamodb_typed().update_item(
                TableName=self.table_name,
                Key=self._key(rule, subject, window),
                UpdateExpression="ADD #count :one SET expires_at = :expires",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":expires": {"N": str(window + 2 * WINDOW_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "rate limit counter unavailable", extra={"scope": rule.scope, "error": type(error).__name__}
            )
            metrics.add_metric(name="RateLimiterFailOpen", unit=MetricUnit.Count, value=1)
            return None
        return int(response["Attributes"]["count"]["N"])


# The contract's limits (API.md "Rate limits"). The per-IP counter is one for the API and the proxy.
CLIENT_IP = RateLimit("ip", 600)
PROXY_MESSAGES = RateLimit("messages", 300)
PROXY_COUNT_TOKENS = RateLimit("count_tokens", 600)


def rate_limited_body(retry_after: int) -> dict[str, object]:
    return {"error": "Too many requests", "code": "RATE_LIMITED", "retryAfter": retry_after}
