"""1-hour cache writes that were never read back within their hour (per Claude Code session).

Anthropic reports how many tokens a call wrote to and read from the cache, not which entries, so the
rule works on prompt-prefix lengths (docs/sessions.md):

- Calls are grouped into threads: a session's main agent, and each subagent run (`agent_id`), since
  different agents send different prompts and cannot read each other's entries.
- A call at time t with R cache-read tokens and W 1-hour cache-write tokens wrote the prompt tokens
  [R, R + W): Anthropic requires 1-hour breakpoints before 5-minute ones, so the 1-hour part of a
  write comes first.
- Those tokens were read back as far as a later call of the same thread, received in (t, t + 1h],
  read from the cache: with M the largest `cache_read_input_tokens` among those calls, the first
  clamp(M - R, 0, W) tokens were read back, the other W - clamp(M - R, 0, W) never were.
- A write whose hour has not ended yet (t + 1h > now) and is not fully read back is pending, not
  unread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.usage import Usage
from shared.usage_record import Cents, UsageRecord

CACHE_HOUR = timedelta(hours=1)


@dataclass
class UnreadCache:
    writes: int = 0  # calls with at least one 1-hour write token never read back
    tokens: int = 0
    extra_cents: Cents = Cents()  # above the plain-input price of those tokens
    pending_tokens: int = 0


@dataclass(frozen=True)
class _Call:
    at: datetime
    usage: Usage  # the call's model, tokens, speed and inference geography

    @property
    def read(self) -> int:
        return self.usage.cache_read_input_tokens

    @property
    def written_1h(self) -> int:
        return self.usage.cache_creation_1h_input_tokens


def _extra_cost(call: _Call, tokens: int) -> Cents:
    """What `tokens` of the call's 1-hour writes cost above plain input, at the call's own prices:
    the call priced as it was, less the call with those tokens as input (same prompt size, so the
    same long-context tier, speed and inference geography)."""
    # The price tables (genai-prices, ~40-70 ms to import) load on the first unread write priced,
    # not with the API: only the session views of sessions with such writes need them.
    from shared.pricing import price_usage

    usage = call.usage
    as_input = replace(
        usage,
        input_tokens=usage.input_tokens + tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens - tokens,
        cache_creation_1h_input_tokens=usage.cache_creation_1h_input_tokens - tokens,
    )
    as_written, as_plain = price_usage(usage, call.at), price_usage(as_input, call.at)
    if as_written is None or as_plain is None:
        return Cents()
    return Cents(as_written - as_plain)


def _thread(calls: list[_Call], now: datetime, result: UnreadCache) -> None:
    """One thread, oldest first: a sliding window (t, t + 1h] keeps the largest later read."""
    window: deque[int] = deque()  # indexes of calls in the window, reads decreasing
    right = 0
    for call in calls:
        while right < len(calls) and calls[right].at <= call.at + CACHE_HOUR:
            while window and calls[window[-1]].read <= calls[right].read:
                window.pop()
            window.append(right)
            right += 1
        while window and calls[window[0]].at <= call.at:
            window.popleft()
        if not call.written_1h:
            continue
        furthest = calls[window[0]].read if window else 0
        read_back = min(max(furthest - call.read, 0), call.written_1h)
        unread = call.written_1h - read_back
        if not unread:
            continue
        if call.at + CACHE_HOUR > now:
            result.pending_tokens += unread
            continue
        result.writes += 1
        result.tokens += unread
        result.extra_cents += _extra_cost(call, unread)


def unread_1h_cache_writes(records: Iterable[UsageRecord], now: datetime) -> UnreadCache:
    """The rule of the module doc over one session's records (any order)."""
    threads: dict[str, list[_Call]] = {}
    for record in records:
        usage = Usage(model=record.model, speed=record.speed, inference_geo=record.inference_geo)
        for kind, count in record.tokens.by_kind().items():
            setattr(usage, kind, count)
        if record.stop_reason == "refusal" and record.cost_cents == Cents():
            # Refused before any output: Anthropic billed nothing (shared/ingest.py), its writes
            # included, so none of them cost extra. Its reads still read earlier writes.
            usage.cache_creation_1h_input_tokens = 0
        threads.setdefault(record.agent_id or "", []).append(_Call(at=record.requested_at, usage=usage))
    result = UnreadCache()
    for calls in threads.values():
        calls.sort(key=lambda call: call.at)
        _thread(calls, now, result)
    return result
