"""The bill check on `make dev` with the fake Anthropic: calls through the proxy and some straight to
Anthropic with another key, a refresh, then the API and the CLI tell the two apart, to the cent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import DevStack, Upstream, wait_for_usage
from tests.e2e.test_cli import codecosts
from tests.fakes.anthropic_billing import FAKE_ADMIN_KEY, key_id, partial_key_hint
from tests.fakes.anthropic_upstream import FakeAnthropic

PROXIED_KEY = "sk-ant-api03-devStackProxiedKey000000000000000000000-Prox"
BYPASS_KEY = "sk-ant-api03-devStackBypassingKey0000000000000000000-Byps"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DevStack, dict[str, Any], FakeAnthropic]]:
    with Upstream(FakeAnthropic()) as upstream:
        running = DevStack(tmp_path_factory.mktemp("bill-check-stack"), upstream.url)
        running.env["CODECOSTS_ANTHROPIC_ADMIN_URL"] = upstream.fake.url = upstream.url
        dev = running.start()
        try:
            yield running, dev, upstream.fake
        finally:
            assert running.stop() == 0, running.output


def test_before_an_admin_key_is_set_the_cli_says_so(
    stack: tuple[DevStack, dict[str, Any], FakeAnthropic],
) -> None:
    running, dev, _ = stack
    result = codecosts((running, dev), "reconcile")
    assert result.returncode == 1
    assert result.stderr == "codecosts: No Anthropic admin key\n"


def test_proxied_spend_reconciles_and_spend_around_the_proxy_is_unrecorded(
    stack: tuple[DevStack, dict[str, Any], FakeAnthropic],
) -> None:
    running, dev, fake = stack
    through = anthropic.Anthropic(base_url=dev["proxy_endpoint"]["url"], api_key=PROXIED_KEY, max_retries=0)
    around = anthropic.Anthropic(base_url=fake.url, api_key=BYPASS_KEY, max_retries=0)
    for client in (through, around):
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)
        with client.messages.stream(model="fake:cache-1h", max_tokens=64, messages=MESSAGES) as reply:
            reply.until_done()
    records = wait_for_usage(running.url, dev["api_key"], 2)
    recorded = sum((Decimal(record["cost_cents"]) for record in records), Decimal(0))
    bypassed = sum(
        (sum(call.costs().values(), Decimal(0)) for call in fake.billing.calls if call.api_key == BYPASS_KEY),
        Decimal(0),
    )
    headers = {"Authorization": f"Bearer {dev['api_key']}"}
    key = httpx.put(
        f"{running.url}/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY}, headers=headers
    )
    assert key.status_code == 200, key.text

    refreshed = httpx.post(f"{running.url}/api/reconciliation/refresh", headers=headers, timeout=30)

    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["totals"] == {
        "recordedCostCents": float(recorded),
        "billedCostCents": float(recorded + bypassed),
        "driftCostCents": float(bypassed),
        "unrecordedCostCents": float(bypassed),
    }
    by_key = {row["anthropic_api_key_id"]: row for row in body["byKey"]}
    assert by_key[key_id(PROXIED_KEY)]["billedCostCents"] == by_key[key_id(PROXIED_KEY)]["recordedCostCents"]
    assert by_key[key_id(BYPASS_KEY)]["unrecorded"] is True
    assert by_key[key_id(BYPASS_KEY)]["billedCostCents"] == float(bypassed)

    cli = codecosts((running, dev), "reconcile", "--since", "30d")
    assert cli.returncode == 0, cli.stderr
    assert partial_key_hint(BYPASS_KEY) in cli.stdout
    assert "UNRECORDED" in cli.stdout and "1 key(s) spent without going through Codecosts." in cli.stdout
    as_json = json.loads(codecosts((running, dev), "reconcile", "--since", "30d", "--json").stdout)
    assert as_json["totals"]["unrecordedCostCents"] == float(bypassed)
