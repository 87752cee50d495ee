"""Every reply shape Anthropic sends, priced right: the table of issue 13's "Done when".

Calls go from the official SDK through the proxy to the fake upstream (real stream shapes); the
record is built by the ingest from the message the proxy queued. Each expected cost is computed
without the code under test: Anthropic's published prices by hand (per million tokens, in the
comments) and, where genai-prices models the case, genai-prices applied to the usage the SDK itself
accumulated from the same reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import genai_prices
import httpx2
import pytest

from shared.ingest import UsageIngest
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.timefmt import utc_now
from shared.usage import INVALID_MODEL, read_stream_usage
from shared.usage_event import BodyRef
from shared.usage_record import record_view
from tests.fakes.anthropic_upstream import FakeAnthropic, sse_event
from tests.fakes.events import streamed_call
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import MESSAGES, RecordingClient

HAIKU = "claude-haiku-4-5"  # $1 input, $1.25 5m writes, $2 1h writes, $0.10 reads, $5 output
SONNET_45 = "claude-sonnet-4-5-20250929"  # $3 / $15; over 200k: $6 input, $0.60 reads, $22.50 output
SONNET_4 = "claude-sonnet-4-20250514"  # the same rates and tier (genai-prices lacks the tier)
OPUS_5 = "claude-opus-5"  # $5 / $25; fast: $10 / $50; US-only inference 1.1x on tokens
SONNET_46 = "claude-sonnet-4-6"  # $3 / $15, web search $10 per 1,000
FABLE_5 = "claude-fable-5"  # $10 / $50; its safety classifiers may refuse a request


def record_of(proxy: RunningProxy) -> dict[str, Any]:
    """The record of the proxy's latest call, as the ingest builds it and the API shows it."""
    event = proxy.queue.receive_one().event
    settings = get_settings()
    ingest = UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))
    return record_view(ingest.build_record(event))


def genai_cents(message: anthropic.types.Message) -> Decimal:
    """genai-prices on the SDK's own message: its usage as the SDK accumulated it, its speed."""
    extracted = genai_prices.extract_usage(message.model_dump(), provider_id="anthropic")
    context = {"speed": message.usage.speed} if message.usage.speed else None
    price = extracted.calc_price(genai_request_timestamp=utc_now(), price_context=context)
    return (price.total_price * 100).quantize(Decimal("0.000001"))


@dataclass
class Shape:
    model: str
    stream: bool = True
    input_tokens: int = 100
    cache_writes: tuple[int, int] = (0, 0)  # 5-minute, 1-hour
    cache_read: int = 0
    usage_extra: dict[str, Any] = field(default_factory=dict)
    thinking_tokens: int | None = None  # of the output, reported in `output_tokens_details`
    # Replayed fixture (tests/fixtures/anthropic) instead of a generated text reply.
    fixture: str | None = None
    by_hand: str = ""  # expected cents from the published prices
    genai_reference: bool = True  # False where genai-prices does not model the case


# Generated text replies have 7 output tokens (6 text deltas).
SHAPES = {
    # 100 x 1 + 4,000 x 1.25 + 7 x 5 = 5,135 micro-dollars
    "streamed 5m writes": Shape(HAIKU, cache_writes=(4_000, 0), by_hand="0.513500"),
    # 100 x 1 + 4,000 x 2 + 7 x 5; the final delta repeats the total without the split
    "streamed 1h writes, cumulative delta without the split": Shape(
        HAIKU, cache_writes=(0, 4_000), by_hand="0.813500"
    ),
    # 100 x 1 + 1,000 x 1.25 + 3,000 x 2 + 7 x 5
    "streamed 5m and 1h writes": Shape(HAIKU, cache_writes=(1_000, 3_000), by_hand="0.738500"),
    "non-streamed 5m writes": Shape(HAIKU, stream=False, cache_writes=(4_000, 0), by_hand="0.513500"),
    "non-streamed 1h writes": Shape(HAIKU, stream=False, cache_writes=(0, 4_000), by_hand="0.813500"),
    # 205,000 prompt tokens: 10,000 x 6 + 195,000 x 0.6 + 7 x 22.5 = 177,157.5 micro-dollars
    "over 200k through cache reads": Shape(
        SONNET_45, input_tokens=10_000, cache_read=195_000, by_hand="17.715750"
    ),
    "Sonnet 4 over 200k through cache reads": Shape(
        SONNET_4, input_tokens=10_000, cache_read=195_000, by_hand="17.715750", genai_reference=False
    ),
    # 100 x 3 + (7 + 1,200 thinking) x 15: thinking is billed as output, never on top of it
    "streamed thinking tokens": Shape(SONNET_46, thinking_tokens=1_200, by_hand="1.840500"),
    "non-streamed thinking tokens": Shape(SONNET_46, stream=False, thinking_tokens=1_200, by_hand="1.840500"),
    # 1,000 x 10 + 7 x 50
    "fast mode": Shape(OPUS_5, input_tokens=1_000, usage_extra={"speed": "fast"}, by_hand="1.035000"),
    # (1,000 x 5 + 7 x 25) x 1.1 = 5,692.5 micro-dollars
    "US-only inference": Shape(
        OPUS_5,
        input_tokens=1_000,
        usage_extra={"inference_geo": "us"},
        by_hand="0.569250",
        genai_reference=False,
    ),
    # 1,000 x 3 + 7 x 15 + 2 searches x $10 / 1,000 (fetches cost only their tokens)
    "web search and fetch counts": Shape(
        SONNET_46,
        input_tokens=1_000,
        usage_extra={"server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 3}},
        by_hand="2.310500",
    ),
    # claude-opus-4-1: 472 x 15 + 1,800 x 18.75 + 89 x 75
    "thinking and tool use": Shape("fake:thinking", fixture="thinking", by_hand="4.750500"),
    # Sonnet 4.5, the delta repeating cumulative input: 10,682 x 3 + 510 x 15 + 1 search x $10 / 1,000
    "cumulative deltas, web search": Shape("fake:web-search", fixture="web-search", by_hand="4.969600"),
}


@pytest.mark.parametrize("name", SHAPES)
# Sonnet 4.5 was retired on 2026-11-30 and the SDK warns when asked for it; its calls are still priced
# (a usage message delivered late, the bill check of its last month), so its long-context shape stays.
@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5-20250929' is deprecated:DeprecationWarning")
def test_each_shape_costs_what_anthropic_publishes(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, name: str
) -> None:
    shape = SHAPES[name]
    fake_upstream.input_tokens = shape.input_tokens
    fake_upstream.cache_writes = shape.cache_writes
    fake_upstream.cache_read = shape.cache_read
    fake_upstream.usage_extra = shape.usage_extra
    fake_upstream.thinking_tokens = shape.thinking_tokens
    fake_upstream.text_deltas = 6
    sdk = RecordingClient(proxy_server).sdk
    message: anthropic.types.Message
    if shape.stream:
        with sdk.messages.stream(model=shape.model, max_tokens=64, messages=MESSAGES) as stream:
            message = stream.get_final_message()
    else:
        message = sdk.messages.create(model=shape.model, max_tokens=64, messages=MESSAGES)

    record = record_of(proxy_server)
    assert record["cost_cents"] == shape.by_hand
    if shape.genai_reference:
        assert Decimal(record["cost_cents"]) == genai_cents(message)
    assert record["cost_unknown"] is False and record["output_tokens_estimated"] is False
    assert record["cache_creation_5m_input_tokens"] == message.usage.cache_creation.ephemeral_5m_input_tokens  # type: ignore[union-attr]
    assert record["cache_creation_1h_input_tokens"] == message.usage.cache_creation.ephemeral_1h_input_tokens  # type: ignore[union-attr]
    assert record["speed"] == message.usage.speed
    details = message.usage.output_tokens_details
    assert record["thinking_tokens"] == (details.thinking_tokens if details else 0)
    if shape.thinking_tokens is not None:
        assert record["thinking_tokens"] == shape.thinking_tokens
    assert record["output_tokens"] == message.usage.output_tokens
    assert record["inference_geo"] == message.usage.inference_geo
    assert record["server_tool_use"] == (
        message.usage.server_tool_use.model_dump(exclude_none=True) if message.usage.server_tool_use else {}
    )


def record_of_stream(stream: bytes, requested_at: datetime) -> dict[str, Any]:
    """The record the ingest builds for a streamed call whose reply was `stream`."""
    event = streamed_call(
        requested_at,
        tenant="t",
        endpoint="EP1",
        usage=read_stream_usage(stream),
        request_body=BodyRef.of(b"{}"),
        response_body=BodyRef.of(stream),
    )
    return record_view(UsageIngest(UsageStore("unused", "unused")).build_record(event, request_text="{}"))


def test_a_cumulative_delta_with_the_split_takes_it() -> None:
    """A delta that does carry the split (the API may add it) replaces the one message_start gave."""
    start: dict[str, Any] = {"input_tokens": 50, "cache_creation_input_tokens": 1_000, "output_tokens": 1}
    start["cache_creation"] = {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 0}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": HAIKU,
        "usage": start,
    }
    delta_usage = {
        "cache_creation_input_tokens": 3_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
        "output_tokens": 20,
    }
    stream = sse_event({"type": "message_start", "message": message}) + sse_event(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta_usage}
    )
    usage = read_stream_usage(stream)
    assert (usage.cache_creation_5m_input_tokens, usage.cache_creation_1h_input_tokens) == (1_000, 2_000)
    record = record_of_stream(stream, utc_now())
    # 50 x 1 + 1,000 x 1.25 + 2,000 x 2 + 20 x 5
    assert record["cost_cents"] == "0.540000"


def error_mid_stream(sdk: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        sdk.messages.stream(model="fake:error-mid-stream", max_tokens=64, messages=MESSAGES) as stream,
    ):
        stream.until_done()


def cut_after_message_start(sdk: anthropic.Anthropic) -> None:
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        sdk.messages.stream(model=HAIKU, max_tokens=64, messages=MESSAGES) as stream,
    ):
        stream.until_done()


def abandoned_mid_way(sdk: anthropic.Anthropic) -> None:
    """Claude Code's Esc: the client reads two text deltas ("Hello", " from") and closes the stream."""
    with sdk.messages.stream(model=HAIKU, max_tokens=64, messages=MESSAGES) as stream:
        texts = 0
        for event in stream:
            texts += event.type == "text"
            if texts == 2:
                break


@dataclass
class CutShort:
    call: Callable[[anthropic.Anthropic], None]
    output_tokens: int
    by_hand: str
    scenario: str | None = None
    hold_after_events: int | None = None


CUT_SHORT = {
    # Haiku 4.5 fixture: 30 input; "Once upon" relayed: ceil(9 / 3.5) = 3 output. 30 x 1 + 3 x 5
    "error event mid-stream": CutShort(error_mid_stream, 3, "0.004500"),
    # Nothing generated was relayed: the 1 output token of message_start stands. 1,000 x 1 + 1 x 5
    "stream cut after message_start": CutShort(cut_after_message_start, 1, "0.100500", scenario="break"),
    # "Hello from" relayed: ceil(10 / 3.5) = 3 output. 1,000 x 1 + 3 x 5
    "stream abandoned by the client mid-way": CutShort(abandoned_mid_way, 3, "0.101500", hold_after_events=5),
}


@pytest.mark.parametrize("name", CUT_SHORT)
def test_a_stream_cut_short_bills_the_output_it_relayed(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, name: str
) -> None:
    case = CUT_SHORT[name]
    fake_upstream.input_tokens = 1_000
    fake_upstream.scenario = case.scenario
    fake_upstream.hold_after_events = case.hold_after_events
    case.call(RecordingClient(proxy_server).sdk)

    event = proxy_server.queue.receive_one().event
    settings = get_settings()
    store = UsageStore(settings.table_name, settings.bodies_bucket)
    record = record_view(UsageIngest(store).build_record(event))
    assert record["output_tokens_estimated"] is True
    assert record["output_tokens"] == case.output_tokens
    assert record["cost_cents"] == case.by_hand

    # Budgets read the month's spend of the endpoint: it counts the estimate.
    UsageIngest(store).ingest(event)
    month = record["requested_at"][:7]
    spend = store.month_spend(event.tenant_id, [event.proxy_endpoint_id], month)
    assert spend[event.proxy_endpoint_id] == Decimal(case.by_hand)


@pytest.mark.parametrize(
    ("model", "recorded"),
    [("claude-imaginary-9", "claude-imaginary-9"), ("claude\x1b[2J-" + "x" * 200, INVALID_MODEL)],
    ids=["unknown model", "junk model"],
)
def test_a_model_without_a_price_is_recorded_as_of_unknown_cost(
    proxy_server: RunningProxy, model: str, recorded: str
) -> None:
    with RecordingClient(proxy_server).sdk.messages.stream(
        model=model, max_tokens=64, messages=MESSAGES
    ) as stream:
        stream.until_done()
    record = record_of(proxy_server)
    assert record["model"] == recorded
    assert (record["cost_cents"], record["cost_unknown"]) == (None, True)


REFUSALS = {
    # Anthropic bills nothing for a refusal before any output (since 2026-06-02): the record keeps
    # the tokens the reply reported and costs 0.
    "refused before any output, streamed": ("refusal", True, "0.000000"),
    "refused before any output, not streamed": ("refusal", False, "0.000000"),
    # A streaming classifier stepping in after the text: billed as usual. 1,000 x 10 + 7 x 50
    "refused after some text": ("refusal-after-text", True, "1.035000"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refusal_costs_nothing_only_before_any_output(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, name: str
) -> None:
    scenario, stream, by_hand = REFUSALS[name]
    fake_upstream.scenario = scenario
    fake_upstream.input_tokens = 1_000
    fake_upstream.text_deltas = 6
    sdk = RecordingClient(proxy_server).sdk
    message: anthropic.types.Message
    if stream:
        with sdk.messages.stream(model=FABLE_5, max_tokens=64, messages=MESSAGES) as reply:
            message = reply.get_final_message()
    else:
        message = sdk.messages.create(model=FABLE_5, max_tokens=64, messages=MESSAGES)
    assert message.stop_reason == "refusal"

    record = record_of(proxy_server)
    assert record["stop_reason"] == "refusal"
    assert (record["input_tokens"], record["output_tokens"]) == (1_000, message.usage.output_tokens)
    assert (record["cost_cents"], record["cost_unknown"]) == (by_hand, False)


def test_a_refusal_before_the_billing_change_was_billed() -> None:
    """Before 2026-06-02 a refusal before any output cost its tokens, as any call did."""
    start = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": FABLE_5}
    start["usage"] = {"input_tokens": 1_000, "output_tokens": 1}
    stream = sse_event({"type": "message_start", "message": start}) + sse_event(
        {"type": "message_delta", "delta": {"stop_reason": "refusal"}, "usage": {"output_tokens": 1}}
    )
    usage = read_stream_usage(stream)
    assert (usage.stop_reason, usage.generated_output) == ("refusal", False)
    days = (datetime(2026, 6, 1, 23, 59, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))
    costs = {day.date().isoformat(): record_of_stream(stream, day)["cost_cents"] for day in days}
    # 1,000 x 10 + 1 x 50 = 10,050 micro-dollars before the change; nothing after it.
    assert costs == {"2026-06-01": "1.005000", "2026-06-02": "0.000000"}
