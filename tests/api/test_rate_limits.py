"""600 requests a minute per client IP on every API route, shared through the table."""

from __future__ import annotations

import boto3

from shared.settings import get_settings
from shared.store import layout
from shared.store.rate_limits import CLIENT_IP, WINDOW_SECONDS

WINDOW = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counter(ip: str, count: int) -> None:
    """Another instance already counted `count` requests from `ip` in this window."""
    boto3.resource("dynamodb").Table(get_settings().table_name).put_item(
        Item={"pk": layout.rate_counter_pk(CLIENT_IP.scope, ip), "sk": str(WINDOW), "count": count}
    )


def test_the_601st_request_from_an_ip_in_a_minute_is_refused(app, client, alice):
    clock = Clock(WINDOW + 20)
    app.state.services.rate_limiter.clock = clock
    counter("testclient", 599)  # TestClient's socket address

    assert client.get("/api/health").status_code == 200
    refused = client.get("/api/proxy-endpoints", headers={**alice, "X-Forwarded-For": "203.0.113.9"})
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too many requests", "code": "RATE_LIMITED", "retryAfter": 40}
    assert refused.headers["retry-after"] == "40"

    clock.now = WINDOW + WINDOW_SECONDS  # the next minute
    assert client.get("/api/proxy-endpoints", headers=alice).status_code == 200


def test_another_ip_is_counted_apart(app, client):
    app.state.services.rate_limiter.clock = Clock(WINDOW + 5)
    counter("198.51.100.7", 600)
    assert client.get("/api/health").status_code == 200
