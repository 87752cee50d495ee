"""Streamed 1-hour cache writes keep their price: the final `message_delta` repeats the cumulative
cache-write total without the 5-minute/1-hour split, and that must not turn them into 5-minute writes.

Each expected cost is computed without the code under test: genai-prices applied to the usage the
official SDK accumulated from the same stream, and Anthropic's published prices by hand.
"""

from __future__ import annotations

from decimal import Decimal

import genai_prices

from shared.ingest import UsageIngest
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import MESSAGES, RecordingClient

MODEL = "claude-sonnet-4-5-20250929"  # $3 input, $3.75 5m writes, $6 1h writes, $15 output per MTok


def sdk_reference_cents(message: object, requested_at: object) -> Decimal:
    """genai-prices on the SDK's own accumulated message."""
    extracted = genai_prices.extract_usage(message.model_dump(), provider_id="anthropic")  # type: ignore[attr-defined]
    price = extracted.calc_price(genai_request_timestamp=requested_at)  # type: ignore[arg-type]
    return (price.total_price * 100).quantize(Decimal("0.000001"))


def test_streamed_1h_writes_are_priced_as_1h_writes(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    fake_upstream.input_tokens = 100
    fake_upstream.cache_writes = (2_000, 8_000)
    fake_upstream.text_deltas = 6  # 7 output tokens
    client = RecordingClient(proxy_server)
    with client.sdk.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert final.usage.cache_creation is not None
    assert final.usage.cache_creation.ephemeral_1h_input_tokens == 8_000

    event = proxy_server.queue.receive_one().event
    settings = get_settings()
    record = UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket)).build_record(event)

    assert record["cache_creation_input_tokens"] == 10_000
    assert record["cache_creation_1h_input_tokens"] == 8_000
    assert record["cache_creation_5m_input_tokens"] == 2_000
    assert Decimal(record["cost_cents"]) == sdk_reference_cents(final, event.requested_at)
    # By hand: (100 x 3 + 2,000 x 3.75 + 8,000 x 6 + 7 x 15) / 1e6 dollars = 5.590500 cents.
    assert record["cost_cents"] == "5.590500"
