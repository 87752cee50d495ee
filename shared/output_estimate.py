"""The output tokens of a stream that ended before Anthropic's final count, estimated.

A stream's `message_start` carries a placeholder output count (usually 1); the real count comes in
the final `message_delta`. When the client leaves mid-stream (Claude Code's Esc), the upstream cuts
off, or an `event: error` ends the stream, that count never arrives, yet Anthropic bills what it
generated until then. The proxy knows what it relayed: the text, thinking and tool-input deltas.

Estimator: their characters divided by 3.5, rounded up; Anthropic's glossary puts a Claude token at
about 3.5 English characters (https://platform.claude.com/docs/en/about-claude/glossary, "Tokens").
It is a floor in practice: tokens generated after the last relayed byte (before the cancel reached
Anthropic) and thinking that is not streamed (redacted or omitted thinking) are not seen.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Final

from shared.usage import Usage

CHARACTERS_PER_TOKEN: Final = Decimal("3.5")
# The field holding generated text in each content delta that carries some.
_DELTA_TEXT: Final = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def relayed_output_characters(stream: bytes) -> int:
    """Characters of generated text, thinking and tool input in a (possibly cut) SSE body."""
    characters = 0
    for line in stream.split(b"\n"):
        if not line.startswith(b"data:") or b"content_block_delta" not in line:
            continue
        try:
            payload = json.loads(line[5:])
        except ValueError:
            continue  # the last line of a cut stream
        delta = payload.get("delta") if isinstance(payload, dict) else None
        if not isinstance(delta, dict):
            continue
        text = delta.get(_DELTA_TEXT.get(str(delta.get("type")), ""))
        if isinstance(text, str):
            characters += len(text)
    return characters


def estimate_output_tokens(stream: bytes) -> int:
    return math.ceil(relayed_output_characters(stream) / CHARACTERS_PER_TOKEN)


def settle_unfinished_stream(usage: Usage, stream: bytes) -> None:
    """For a stream whose final count never came: the larger of the count `message_start` gave and
    the estimate, flagged as estimated."""
    usage.output_tokens = max(usage.output_tokens, estimate_output_tokens(stream))
    usage.output_tokens_estimated = True
