"""Budget alerts from the ingest, with its own role's grants: once per threshold and month on each
channel (a real webhook receiver; the stack's SNS topic in moto, routed by tenant), however often the
records come."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from devstack.poller import LocalLambdaContext
from devstack.rehearsal import Rehearsal
from functions.usage_ingest.handler import handler
from shared.alerts import Alerts
from shared.settings import get_settings
from shared.store.alerts import AlertSettings, AlertStore
from shared.store.endpoints import EndpointStore
from shared.timefmt import month_of
from shared.usage_event import UsageEvent
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.ingest.test_ingest import expected_cost_cents, sqs_batch, usage_event

TENANT = "tenant_budget"
CALL = "non-streaming-long-context.json"  # about $1.50 a call


def subscribed_queue(topic_arn: str, tenant: str) -> str:
    """An email stand-in: an SQS queue subscribed to the topic with the per-tenant filter policy."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"alerts-{tenant}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"tenant": [tenant]})},
    )
    return str(url)


def emails(queue_url: str) -> list[dict[str, Any]]:
    response = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


@pytest.fixture
def budgeted(aws: Rehearsal, webhook: WebhookReceiver) -> dict[str, Any]:
    """An endpoint whose budget three and a half calls use up, the tenant's webhook set, its email
    subscribed; and the ingest's alerts as the stack configures them (loopback webhooks allowed)."""
    settings = get_settings()
    topic_arn = aws.functions["usage_ingest"].environment["CODECOSTS_ALERTS_TOPIC_ARN"]
    endpoints = EndpointStore(settings.table_name)
    endpoint = endpoints.create(TENANT, "CI runners")
    budget = int(expected_cost_cents(CALL) * Decimal("3.5"))
    endpoints.update(TENANT, endpoint["id"], monthly_budget_cents=budget, budget_action="notify")
    AlertStore(settings.table_name).put_settings(TENANT, AlertSettings(webhook_url=webhook.url))
    alerts_settings = settings.model_copy(
        update={"alerts_topic_arn": topic_arn, "alert_webhook_allow_loopback": True}
    )
    return {
        "endpoint": endpoint,
        "budget": budget,
        "alerts": Alerts.from_settings(alerts_settings),
        "email": subscribed_queue(topic_arn, TENANT),
        "other_email": subscribed_queue(topic_arn, "another_tenant"),
    }


def calls(endpoint_id: str, count: int) -> list[UsageEvent]:
    now = datetime.now(UTC)
    return [usage_event(CALL, tenant=TENANT, endpoint=endpoint_id, requested_at=now) for _ in range(count)]


class ShortOnTime(LocalLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 1000  # less than the margin the ingest keeps before its timeout


def ingest(budgeted: dict[str, Any], *events: UsageEvent, context: LocalLambdaContext | None = None) -> None:
    batch = sqs_batch(*(event.model_dump_json() for event in events))
    result = handler(batch, context or LocalLambdaContext(), alerts=budgeted["alerts"])
    assert result == {"batchItemFailures": []}


def test_a_budget_alerts_once_at_80_and_once_at_100_percent_however_often_records_come(
    budgeted: dict[str, Any], webhook: WebhookReceiver
) -> None:
    first, second, third, fourth = calls(budgeted["endpoint"]["id"], 4)

    ingest(budgeted, first, second)  # 57%
    assert webhook.received == []
    ingest(budgeted, third, third)  # 86%, the record twice in one batch
    ingest(budgeted, first, second, third)  # the same batch redelivered
    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80]
    ingest(budgeted, fourth)  # 114%
    ingest(budgeted, fourth)

    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80, 100]
    eighty = webhook.received[0]
    assert (eighty["kind"], eighty["tenant"]) == ("budget", TENANT)
    assert eighty["text"].startswith('Proxy endpoint "CI runners" has used 80% of its monthly budget')
    assert eighty["details"]["month"] == month_of(datetime.now(UTC))
    assert eighty["details"]["budget_cents"] == budgeted["budget"]
    sent = json.dumps(webhook.received)
    assert "sk-ant" not in sent and "hook-secret" not in sent  # no key, not even the webhook's own URL

    mails = emails(budgeted["email"])
    assert sorted(
        json.loads(mail["Message"].split("\n\n", 1)[1])["details"]["threshold_pct"] for mail in mails
    ) == [
        80,
        100,
    ]
    assert {mail["MessageAttributes"]["tenant"]["Value"] for mail in mails} == {TENANT}
    assert emails(budgeted["other_email"]) == []  # another tenant's subscription hears nothing of it


def test_a_webhook_that_failed_gets_the_alert_at_the_next_batch_and_email_is_not_repeated(
    budgeted: dict[str, Any], webhook: WebhookReceiver
) -> None:
    first, second, third = calls(budgeted["endpoint"]["id"], 3)
    ingest(budgeted, first, second)
    webhook.fail_next = 3  # every attempt of the 80% alert

    ingest(budgeted, third)  # 86%: the webhook fails after its retries, email goes out

    assert (webhook.attempts, webhook.received) == (3, [])
    assert len(emails(budgeted["email"])) == 1
    ingest(budgeted, third)  # a redelivery is enough to try the webhook again
    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80]
    assert emails(budgeted["email"]) == []


def test_an_endpoint_without_a_budget_alerts_nothing(
    aws: Rehearsal, budgeted: dict[str, Any], webhook: WebhookReceiver
) -> None:
    endpoint = EndpointStore(get_settings().table_name).create(TENANT, "No budget")
    ingest(budgeted, *calls(endpoint["id"], 3))
    assert webhook.attempts == 0
    assert emails(budgeted["email"]) == []


def test_a_batch_without_time_left_sends_nothing_and_the_next_one_sends_it(
    budgeted: dict[str, Any], webhook: WebhookReceiver
) -> None:
    first, second, third = calls(budgeted["endpoint"]["id"], 3)
    ingest(budgeted, first, second)

    ingest(budgeted, third, context=ShortOnTime())  # 86%, but the invocation is about to time out

    assert (webhook.attempts, emails(budgeted["email"])) == (0, [])
    ingest(budgeted, third)
    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80]
    assert len(emails(budgeted["email"])) == 1


def test_a_threshold_already_sent_is_read_not_claimed_again(
    budgeted: dict[str, Any], webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third, fourth = calls(budgeted["endpoint"]["id"], 4)
    ingest(budgeted, first, second, third, fourth)  # 114%: 80 and 100 sent on both channels
    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80, 100]

    # Every later batch of the month finds both thresholds reached: it reads the markers once, and
    # tries no claim (a claim the table refuses would cost a write unit each time).
    claims: list[tuple[str, str]] = []
    store = budgeted["alerts"].store
    claim = store.claim
    monkeypatch.setattr(
        store,
        "claim",
        lambda tenant, key, channel: claims.append((key, channel)) or claim(tenant, key, channel),
    )
    ingest(budgeted, *calls(budgeted["endpoint"]["id"], 1))
    assert claims == []
    assert [alert["details"]["threshold_pct"] for alert in webhook.received] == [80, 100]
