"""The bill check, end to end: calls through the proxy (and around it) to the fake Anthropic, which
bills what it served; the admin key set through the API; reconciliation read back through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anthropic
import boto3
import pytest
from fastapi.testclient import TestClient

from functions.api.app import create_app
from functions.reconcile.handler import handler as reconcile_handler
from shared.bill_check import BillCheck
from shared.ingest import UsageIngest
from shared.settings import Settings, get_settings
from shared.store import layout
from shared.store.usage_records import UsageStore
from shared.usage_record import record_view
from tests.fakes.anthropic_billing import FAKE_ADMIN_KEY, key_id, partial_key_hint
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.fixtures import PROXY_TENANT_ID
from tests.fakes.proxy_server import RunningProxy

PROXIED_KEY = "sk-ant-api03-proxiedKeyThroughTheProxy000000000000-Prox"
BYPASS_KEY = "sk-ant-api03-bypassingKeyStraightToAnthropic0000000-Byps"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def bill_client(
    api_settings: Settings, fake_upstream: FakeAnthropic, as_user: Callable[..., dict[str, str]]
) -> TestClient:
    """The API, its Admin API pointed at the fake; signed in to the proxy's tenant (an organization)."""
    app = create_app(api_settings.model_copy(update={"anthropic_admin_url": fake_upstream.url}))
    client = TestClient(app, raise_server_exceptions=False)
    client.headers.update(as_user("user_alice", org_id=PROXY_TENANT_ID))
    return client


def _calls(base_url: str, api_key: str, scenarios: list[str]) -> None:
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    for scenario in scenarios:
        stream = scenario != "text-json" and not scenario.endswith(".json")
        model = "claude-haiku-4-5" if scenario.startswith("text") else f"fake:{scenario}"
        if stream:
            with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as reply:
                reply.until_done()
        else:
            client.messages.create(model=model, max_tokens=64, messages=MESSAGES)


def _through_proxy(proxy: RunningProxy, scenarios: list[str]) -> list[dict[str, Any]]:
    """Calls through the proxy, then the ingest stores their records (as the queue would feed it)."""
    _calls(proxy.base_url, PROXIED_KEY, scenarios)
    store = UsageStore(proxy.settings.table_name, proxy.settings.bodies_bucket)
    ingest = UsageIngest(store)
    records = []
    for message in proxy.queue.receive(len(scenarios)):
        ingest.ingest(message.event)
        records.append(record_view(ingest.build_record(message.event)))
    return records


def _billed_cents(fake: FakeAnthropic, api_key: str) -> Decimal:
    """What the fake Anthropic billed one key, straight from its ledger."""
    return sum(
        (sum(call.costs().values(), Decimal(0)) for call in fake.billing.calls if call.api_key == api_key),
        Decimal(0),
    )


def _key_row(body: dict[str, Any], api_key: str) -> dict[str, Any]:
    return next(row for row in body["byKey"] if row["anthropic_api_key_id"] == key_id(api_key))


def test_every_call_through_the_proxy_reconciles_with_zero_drift(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, bill_client: TestClient
) -> None:
    records = _through_proxy(
        proxy_server,
        [
            "text",
            "text-json",
            "fixture/text-1h-cache.sse",
            "fixture/web-search-cumulative.sse",
            # Over 200k input tokens: the whole call at the long-context rate, billed and recorded.
            "fixture/non-streaming-long-context.json",
        ],
    )
    # Small pages, so that the sync has to follow `next_page` and `after_id`.
    fake_upstream.billing.page_days = 2
    fake_upstream.billing.keys_page_size = 1
    assert bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY}).status_code == 200

    response = bill_client.post("/api/reconciliation/refresh")

    assert response.status_code == 200, response.text
    body = response.json()
    recorded = sum((Decimal(record["cost_cents"]) for record in records), Decimal(0))
    assert recorded > 0
    assert body["totals"] == {
        "recordedCostCents": float(recorded),
        "billedCostCents": float(recorded),
        "driftCostCents": 0.0,
        "unrecordedCostCents": 0.0,
    }
    assert (body["stale"], body["error"]) == (False, None)
    assert body["asOf"] is not None
    today = datetime.now(UTC).date()  # the default period: the last 7 full UTC days and today
    assert (body["from"], body["to"]) == (str(today - timedelta(days=7)), str(today + timedelta(days=1)))
    assert [day["driftCostCents"] for day in body["byDay"]] == [0.0]
    for model in body["byModel"]:
        assert model["recorded"] == model["billed"]
        assert model["driftCostCents"] == 0.0
    web_search = next(m for m in body["byModel"] if m["billed"]["web_search_requests"])
    assert web_search["recorded"]["web_search_requests"] == web_search["billed"]["web_search_requests"]
    [key] = body["byKey"]
    assert key == {
        "anthropic_api_key_id": key_id(PROXIED_KEY),
        "partial_key_hint": partial_key_hint(PROXIED_KEY),
        "api_key_id": records[0]["api_key_id"],
        "recordedCostCents": float(recorded),
        "billedCostCents": float(recorded),
        "unrecorded": False,
    }


def test_spend_that_went_around_the_proxy_is_unrecorded_to_the_cent(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, bill_client: TestClient
) -> None:
    records = _through_proxy(proxy_server, ["text", "fixture/text-1h-cache.sse"])
    _calls(fake_upstream.url, BYPASS_KEY, ["text", "text-json", "fixture/thinking-tool-use-5m-cache.sse"])
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})

    body = bill_client.post("/api/reconciliation/refresh").json()

    bypassed = _billed_cents(fake_upstream, BYPASS_KEY)
    recorded = sum((Decimal(record["cost_cents"]) for record in records), Decimal(0))
    assert bypassed > 0
    assert body["totals"]["unrecordedCostCents"] == float(bypassed)
    assert body["totals"]["driftCostCents"] == float(bypassed)
    assert body["totals"]["recordedCostCents"] == float(recorded)
    proxied, around = _key_row(body, PROXIED_KEY), _key_row(body, BYPASS_KEY)
    assert (proxied["unrecorded"], proxied["billedCostCents"]) == (False, float(recorded))
    assert around == {
        "anthropic_api_key_id": key_id(BYPASS_KEY),
        "partial_key_hint": partial_key_hint(BYPASS_KEY),
        "api_key_id": None,
        "recordedCostCents": 0.0,
        "billedCostCents": float(bypassed),
        "unrecorded": True,
    }


def test_a_mispriced_record_shows_as_drift_in_the_token_kind_it_got_wrong(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, bill_client: TestClient
) -> None:
    [record] = _through_proxy(proxy_server, ["fixture/text-1h-cache.sse"])
    written_1h = record["cache_creation_1h_input_tokens"]
    assert written_1h > 0
    # As a parser that missed the 1-hour split would have stored it: every write a 5-minute one,
    # priced at 1.25x input instead of 2x (Sonnet 4.5: 375 instead of 600 micro-dollars per 1k tokens).
    cheaper = Decimal(record["cost_cents"]) - Decimal(written_1h) * (Decimal("0.0006") - Decimal("0.000375"))
    UsageStore(proxy_server.settings.table_name, "").table.update_item(
        Key={"pk": layout.usage_pk(PROXY_TENANT_ID, record["id"]), "sk": layout.usage_sk(record["id"])},
        UpdateExpression="SET cache_creation_5m_input_tokens = :all, cache_creation_1h_input_tokens = :none, "
        "cost_cents = :cost",
        ExpressionAttributeValues={":all": written_1h, ":none": 0, ":cost": f"{cheaper:.6f}"},
    )
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})

    body = bill_client.post("/api/reconciliation/refresh").json()

    [model] = body["byModel"]
    assert model["recorded"]["cache_creation_1h_input_tokens"] == 0
    assert model["billed"]["cache_creation_1h_input_tokens"] == written_1h
    assert (
        model["recorded"]["cache_creation_5m_input_tokens"]
        - model["billed"]["cache_creation_5m_input_tokens"]
        == written_1h
    )
    assert model["driftCostCents"] == float(Decimal(record["cost_cents"]) - cheaper)
    assert body["totals"]["driftCostCents"] == model["driftCostCents"]
    assert body["totals"]["unrecordedCostCents"] == 0.0


def test_a_refused_admin_key_is_a_400_with_anthropics_message_and_nothing_is_stored(
    bill_client: TestClient,
) -> None:
    response = bill_client.put(
        "/api/anthropic-admin-key", json={"admin_key": "sk-ant-admin01-notTheOrgsKey-XXXX"}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Anthropic refused the admin key", "details": "invalid x-api-key"}
    assert bill_client.get("/api/anthropic-admin-key").json() == {
        "configured": False,
        "hint": None,
        "updated_at": None,
    }
    assert bill_client.get("/api/reconciliation").status_code == 409


def test_the_admin_key_is_kept_encrypted_shown_as_a_hint_audited_and_removable(
    bill_client: TestClient, api_settings: Settings
) -> None:
    assert bill_client.get("/api/reconciliation").json() == {"error": "No Anthropic admin key"}

    stored = bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY}).json()

    assert stored["configured"] is True
    assert stored["hint"] == "sk-ant-admin01-..." + FAKE_ADMIN_KEY[-4:]
    assert bill_client.get("/api/anthropic-admin-key").json() == stored
    table = boto3.resource("dynamodb").Table(api_settings.table_name)
    everything = repr(table.scan()["Items"])
    assert FAKE_ADMIN_KEY not in everything and FAKE_ADMIN_KEY[15:40] not in everything
    assert bill_client.delete("/api/anthropic-admin-key").json() == {"ok": True}
    assert bill_client.get("/api/anthropic-admin-key").json()["configured"] is False
    actions = [entry["action"] for entry in bill_client.get("/api/audit-logs").json()["items"]]
    assert actions == ["anthropic_admin_key.deleted", "anthropic_admin_key.set"]


def test_a_read_key_sees_the_bill_check_but_cannot_change_the_admin_key_or_refresh(
    bill_client: TestClient, as_user: Callable[..., dict[str, str]]
) -> None:
    admin = as_user("user_alice", org_id=PROXY_TENANT_ID, org_role="org:admin")
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})
    created = bill_client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=admin)
    reader = {"Authorization": f"Bearer {created.json()['key']}"}

    assert bill_client.get("/api/anthropic-admin-key", headers=reader).json()["configured"] is True
    assert bill_client.get("/api/reconciliation", headers=reader).status_code == 200
    for refused in (
        bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY}, headers=reader),
        bill_client.delete("/api/anthropic-admin-key", headers=reader),
        bill_client.post("/api/reconciliation/refresh", headers=reader),
    ):
        assert refused.status_code == 403
        assert refused.json() == {"error": "Forbidden", "details": "needs scope write"}
    assert bill_client.get("/api/anthropic-admin-key").json()["configured"] is True


def test_a_refresh_is_allowed_once_a_minute(bill_client: TestClient) -> None:
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})
    assert bill_client.post("/api/reconciliation/refresh").status_code == 200

    again = bill_client.post("/api/reconciliation/refresh")

    assert again.status_code == 429
    assert again.json()["retryAfter"] == int(again.headers["Retry-After"]) > 0


def test_when_the_admin_api_fails_the_last_good_data_is_served_as_stale_with_the_error(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, bill_client: TestClient
) -> None:
    records = _through_proxy(proxy_server, ["text"])
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})
    good = bill_client.post("/api/reconciliation/refresh").json()
    fake_upstream.billing.failure = 500
    settings = get_settings().model_copy(update={"anthropic_admin_url": fake_upstream.url})

    # The daily job's sync fails (after its retries): the data stays, marked stale.
    assert reconcile_handler({}, _LambdaContext(), bill_check=BillCheck.from_settings(settings)) == {
        "synced": 0,
        "failed": 1,
    }
    body = bill_client.get("/api/reconciliation").json()

    assert body["stale"] is True
    assert body["error"] == "Internal server error"
    assert body["asOf"] == good["asOf"]
    assert body["totals"] == good["totals"]
    assert body["totals"]["billedCostCents"] == float(Decimal(records[0]["cost_cents"]))


def test_reconciliation_is_per_tenant(
    proxy_server: RunningProxy, bill_client: TestClient, alice: dict[str, str]
) -> None:
    _through_proxy(proxy_server, ["text"])
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})
    bill_client.post("/api/reconciliation/refresh")

    assert bill_client.get("/api/reconciliation", headers=alice).status_code == 409
    assert bill_client.get("/api/anthropic-admin-key", headers=alice).json()["configured"] is False


def test_bad_dates_are_a_400(bill_client: TestClient) -> None:
    bill_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})
    for query in ("from=2026-13-01", "from=2026-11-08&to=2026-11-01", "from=2024-01-01&to=2026-01-01"):
        response = bill_client.get(f"/api/reconciliation?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"] == "Invalid request"


class _LambdaContext:
    function_name = "reconcile"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:reconcile"
    aws_request_id = "req-1"


def test_an_admin_key_that_cannot_be_a_header_is_a_400_and_anthropic_is_not_asked(
    bill_client: TestClient, fake_upstream: FakeAnthropic
) -> None:
    for bad in ("sk-ant-admin01-ключ", "sk-ant-admin01 two words", ""):
        response = bill_client.put("/api/anthropic-admin-key", json={"admin_key": bad})
        assert response.status_code == 400, bad
        assert response.json()["details"][0]["field"] == "admin_key"
    assert not [request for request in fake_upstream.requests if request.path.startswith("/v1/organizations")]
