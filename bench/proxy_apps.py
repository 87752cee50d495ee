"""The proxy app with its AWS calls answered in-process, for the 10,000-call memory run.

moto on this machine answers a few dozen proxied calls a second (its CPU shares the cores), so the
leak check would take minutes against it. Here everything of the proxy runs as in production, down
to building each usage message, except the boto3 round trips themselves.
"""

from __future__ import annotations

from typing import Any

from functions.proxy.app import create_app
from functions.proxy.publisher import UsagePublisher
from shared.models import SlugTarget
from shared.resources import BODIES_BUCKET
from shared.settings import get_settings
from shared.store.rate_limits import Decision, RateLimit, RateLimiter


class _Queue:
    def __init__(self) -> None:
        self.sent = 0

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent += 1
        return {"MessageId": str(self.sent)}

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        self.sent += len(request["Entries"])
        return {"Successful": [{"Id": entry["Id"]} for entry in request["Entries"]], "Failed": []}

    def put_object(self, **request: Any) -> dict[str, Any]:
        return {}


class _Endpoints:
    def resolve_slug(self, slug: str) -> SlugTarget | None:
        return SlugTarget(tenant_id="tenant_bench", proxy_endpoint_id=f"ep_{slug}")


class _Counters(RateLimiter):
    def __init__(self) -> None:
        super().__init__("unused")
        self.counts: dict[tuple[str, str, int], int] = {}

    def hit(self, rule: RateLimit, subject: str) -> Decision:
        return Decision(True, count=self.add(rule, subject, self.window()))

    def add(self, rule: RateLimit, subject: str, window: int) -> int | None:
        key = (rule.scope, subject, window)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]


def _without_aws() -> Any:
    settings = get_settings()
    stub = _Queue()
    publisher = UsagePublisher(
        queue_url="https://sqs.local/bench",
        bucket=settings.bodies_bucket,
        prefix=BODIES_BUCKET.bodies_prefix,
        inline_limit=settings.inline_body_limit,
        sqs=stub,
        s3=stub,
    )
    return create_app(publisher=publisher, endpoints=_Endpoints(), limiter=_Counters())


without_aws = _without_aws()
