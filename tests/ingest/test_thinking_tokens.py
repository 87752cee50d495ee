"""Thinking tokens: the part of the output Anthropic reports in `usage.output_tokens_details`, read
from both reply shapes, cumulative like the other counts, and never more than the output."""

from __future__ import annotations

import json
from typing import Any

from shared.usage import read_json_usage, read_stream_usage
from tests.fakes.anthropic_upstream import sse_event


def _stream(start_usage: dict[str, Any], *delta_usages: dict[str, Any]) -> bytes:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-6",
    }
    events = [sse_event({"type": "message_start", "message": {**message, "usage": start_usage}})]
    events += [sse_event({"type": "message_delta", "delta": {}, "usage": usage}) for usage in delta_usages]
    return b"".join(events)


def test_a_stream_takes_the_last_cumulative_count() -> None:
    usage = read_stream_usage(
        _stream(
            {"input_tokens": 50, "output_tokens": 1},  # no details yet
            {"output_tokens": 400, "output_tokens_details": {"thinking_tokens": 350}},
            {"output_tokens": 900, "output_tokens_details": {"thinking_tokens": 700}},
        )
    )
    assert (usage.output_tokens, usage.thinking_tokens) == (900, 700)


def test_a_delta_without_details_keeps_the_count_so_far() -> None:
    usage = read_stream_usage(
        _stream(
            {"input_tokens": 50, "output_tokens": 1},
            {"output_tokens": 400, "output_tokens_details": {"thinking_tokens": 350}},
            {"output_tokens": 420},
        )
    )
    assert (usage.output_tokens, usage.thinking_tokens) == (420, 350)


def test_a_non_streaming_reply_and_one_without_the_field() -> None:
    body = {"type": "message", "usage": {"input_tokens": 5, "output_tokens": 30}}
    assert read_json_usage(json.dumps(body).encode()).thinking_tokens == 0
    body["usage"]["output_tokens_details"] = {"thinking_tokens": 12}
    usage = read_json_usage(json.dumps(body).encode())
    assert (usage.output_tokens, usage.thinking_tokens) == (30, 12)


def test_thinking_is_never_shown_above_the_output_or_below_zero() -> None:
    body = {"usage": {"output_tokens": 30, "output_tokens_details": {"thinking_tokens": 45}}}
    assert read_json_usage(json.dumps(body).encode()).thinking_tokens == 30
    body["usage"]["output_tokens_details"] = {"thinking_tokens": -3}
    assert read_json_usage(json.dumps(body).encode()).thinking_tokens == 0
    body["usage"]["output_tokens_details"] = {"thinking_tokens": "12"}  # not a count: ignored
    assert read_json_usage(json.dumps(body).encode()).thinking_tokens == 0
