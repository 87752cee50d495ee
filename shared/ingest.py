"""Turns one usage message into one stored usage record: tokens, cost and where the bodies are.

Shared because two callers write records: the ingest function (from the queue) and, when the queue
cannot be reached, the proxy itself (straight to the table). Both go through the same idempotent
`UsageStore.write`, so a record written by both is still counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from shared import aws
from shared.pricing import PRICE_SNAPSHOT, PRICE_VERSION, price_usage, price_without_cache
from shared.sessions import session_of
from shared.store.usage_records import Bodies, UsageStore
from shared.store.usage_writes import Outcome
from shared.usage import INVALID_MODEL, Usage, recorded_model, requested_model
from shared.usage_event import BodyRef, UsageEvent
from shared.usage_record import Cents, UsageRecord


class UsageIngest:
    def __init__(self, store: UsageStore) -> None:
        self.store = store

    def ingest(self, event: UsageEvent, request_text: str | None = None) -> bool:
        """Stores the call once; False when this message was already ingested (a redelivery).

        `request_text`: the request body, when the caller still holds it (the proxy), so a
        claim-checked body need not be read back from S3.
        """
        return self.store.write(self.build_record(event, request_text), _inline_bodies(event))

    def ingest_many(self, events: Sequence[UsageEvent]) -> list[Outcome]:
        """Stores the calls, each once, in as few writes as the table allows: an outcome per event
        (True stored, False already stored, or the exception that kept it out: it alone is retried)."""
        outcomes: list[Outcome | None] = []  # None: the write's outcome, in order
        batch: list[tuple[UsageRecord, Bodies | None]] = []
        for event in events:
            try:
                batch.append((self.build_record(event), _inline_bodies(event)))
            except Exception as error:  # its body could not be read from S3, say: it alone fails
                outcomes.append(error)
            else:
                outcomes.append(None)
        written = iter(self.store.write_many(batch))
        return [next(written) if outcome is None else outcome for outcome in outcomes]

    def build_record(self, event: UsageEvent, request_text: str | None = None) -> UsageRecord:
        usage = replace(event.usage)  # a copy: the model may be filled in below
        body: list[str | None] = []  # the request body, read (from S3 maybe) once and only if needed

        def request_body() -> str | None:
            if not body:
                body.append(request_text if request_text is not None else self._body_text(event.request_body))
            return body[0]

        # Error replies name no model: the request said which one it asked for.
        model = recorded_model(usage.model or requested_model(request_body()))
        # A session header without the agent header says all there is unless the body is at hand anyway.
        at_hand = bool(body) or request_text is not None or event.request_body.text is not None
        needs_body = event.session_header is None or (event.agent_header is None and at_hand)
        session = session_of(event.session_header, event.agent_header, request_body() if needs_body else None)
        usage.model = model
        cost, cost_unknown = self._cost(event, usage)
        uncached = (
            None if cost is None else (price_without_cache(usage, event.requested_at) if cost else cost)
        )
        return UsageRecord(
            id=event.id,
            tenant_id=event.tenant_id,
            proxy_endpoint_id=event.proxy_endpoint_id,
            requested_at=event.requested_at,
            path=event.path,
            model=model,
            status_code=event.status_code,
            stream=event.stream,
            complete=event.complete,
            ttfb_ms=event.ttfb_ms,
            duration_ms=event.duration_ms,
            request_id=event.request_id,
            api_key_id=event.api_key_id,
            api_key_hint=event.api_key_hint,
            session_id=session.session_id,
            agent=session.agent,
            agent_id=session.agent_id,
            developer_id=event.developer_id,
            tokens=usage.counts(),
            server_tool_use=dict(usage.server_tool_use),
            service_tier=usage.service_tier,
            speed=usage.speed,
            inference_geo=usage.inference_geo,
            output_tokens_estimated=usage.output_tokens_estimated,
            stop_reason=usage.stop_reason,
            error_type=usage.error_type,
            usage_known=usage.seen,
            cost_cents=Cents.parse(cost),
            cost_unknown=cost_unknown,
            cost_without_cache_cents=Cents.parse(uncached),
            price_snapshot=PRICE_SNAPSHOT,
            price_version=PRICE_VERSION,
            bodies_inline=event.request_body.text is not None or event.response_body.text is not None,
            request_body_key=event.request_body.key,
            response_body_key=event.response_body.key,
            request_body_size=event.request_body.size,
            response_body_size=event.response_body.size,
            # Neither inline nor in S3: the proxy could not store it (S3 was unavailable).
            bodies_missing=_missing(event.request_body) or _missing(event.response_body),
        )

    @staticmethod
    def _cost(event: UsageEvent, usage: Usage) -> tuple[Decimal | None, bool]:
        if usage.model == INVALID_MODEL:
            return None, True
        has_tokens = any(usage.counts().by_kind().values()) or usage.web_search_requests
        if not has_tokens:
            # A call that used nothing cost nothing, unless it succeeded and we could not read its usage.
            unreadable = event.status_code == 200 and not usage.seen
            return (None, True) if unreadable else (Decimal(0), False)
        cost = price_usage(usage, event.requested_at)
        return cost, cost is None

    def _body_text(self, body: BodyRef) -> str | None:
        if body.text is not None or body.key is None:
            return body.text
        response = aws.s3().get_object(Bucket=self.store.bucket, Key=body.key)
        return str(response["Body"].read().decode("utf-8"))


def _inline_bodies(event: UsageEvent) -> Bodies | None:
    """A body small enough to travel inline is kept in the table; a claim-checked one stays in S3."""
    if event.request_body.text is None and event.response_body.text is None:
        return None
    return Bodies(event.request_body.text, event.response_body.text)


def _missing(body: BodyRef) -> bool:
    return body.text is None and body.key is None
