"""Turns one usage message into one stored usage record: tokens, cost and where the bodies are.

Shared because two callers write records: the ingest function (from the queue) and, when the queue
cannot be reached, the proxy itself (straight to the table). Both go through the same idempotent
`UsageStore.write`, so a record written by both is still counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from shared.anthropic_prices import unbilled_refusal
from shared.bodies.retention import expires_at
from shared.bodies.store import BodyStore
from shared.pricing import PRICE_SNAPSHOT, PRICE_VERSION, price_usage, price_without_cache
from shared.resources import BODIES_BUCKET
from shared.sessions import session_of
from shared.store.usage_records import UsageStore
from shared.store.usage_writes import Outcome
from shared.usage import INVALID_MODEL, Usage, recorded_model, requested_model
from shared.usage_event import UsageEvent
from shared.usage_record import Cents, UsageRecord


class UsageIngest:
    def __init__(self, store: UsageStore) -> None:
        self.store = store
        self._bodies: BodyStore | None = None

    def ingest(self, event: UsageEvent, request_text: str | None = None) -> bool:
        """Stores the call once; False when this message was already ingested (a redelivery).

        `request_text`: the request body, when the caller still holds it (the proxy), so a
        claim-checked body need not be read back from S3.
        """
        return self.store.write(self.with_bodies(event, self.build_record(event, request_text)))

    def with_bodies(self, event: UsageEvent, record: UsageRecord) -> UsageRecord:
        """Puts the bodies the message carries in S3 (a session's calls compressed against its base)
        and returns the record saying where. Raises when S3 fails: the message is retried."""
        kept, base = event.bodies_claim_checked, None
        carried = event.request_body.zstd is not None or event.response_body.zstd is not None
        if not kept and carried and event.body_retention_days > 0:
            session_id = record.session_id
            base = self.bodies.keep(
                event.tenant_id,
                event.id,
                event.body_retention_days,
                event.request_body.content(),
                event.response_body.content(),
                in_session=bool(session_id),
                previous_base=self.store.session_base(event.tenant_id, session_id, record.agent_id, event.id)
                if session_id
                else None,
            )
            kept = True
        # Kept: in S3 at the call's key until then (shared/bodies/store.py).
        expire_at = expires_at(event.requested_at, event.body_retention_days) if kept else None
        return replace(record, bodies_expire_at=expire_at, bodies_base=base)

    def ingest_many(self, events: Sequence[UsageEvent]) -> list[Outcome]:
        """Stores the calls, each once, in as few writes as the table allows: an outcome per event
        (True stored, False already stored, or the exception that kept it out: it alone is retried)."""
        outcomes: list[Outcome | None] = []  # None: the write's outcome, in order
        batch: list[UsageRecord] = []
        for event in events:
            try:
                batch.append(self.with_bodies(event, self.build_record(event)))
            except Exception as error:  # its bodies could not be kept in S3, say: it alone fails
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
                body.append(request_text if request_text is not None else self._body_text(event))
            return body[0]

        # Error replies name no model: the request said which one it asked for.
        model = recorded_model(usage.model or requested_model(request_body()))
        # A session header without the agent header says all there is unless the body is at hand anyway.
        at_hand = bool(body) or request_text is not None or event.request_body.zstd is not None
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
            request_body_size=event.request_body.size,
            response_body_size=event.response_body.size,
            # Neither in the message nor in S3: the proxy could not store them (S3 was unavailable).
            bodies_missing=event.bodies_missing,
        )

    @staticmethod
    def _cost(event: UsageEvent, usage: Usage) -> tuple[Decimal | None, bool]:
        if usage.model == INVALID_MODEL:
            return None, True
        has_tokens = any(usage.counts().by_kind().values()) or usage.web_search_requests
        if unbilled_refusal(usage.stop_reason, usage.generated_output, event.requested_at):
            return Decimal(0), False  # its tokens stay on the record, as Anthropic reported them
        if not has_tokens:
            # A call that used nothing cost nothing, unless it succeeded and we could not read its usage.
            unreadable = event.status_code == 200 and not usage.seen
            return (None, True) if unreadable else (Decimal(0), False)
        cost = price_usage(usage, event.requested_at)
        return cost, cost is None

    def _body_text(self, event: UsageEvent) -> str | None:
        body = event.request_body.content()
        if body is None and event.bodies_claim_checked:
            body = (self.bodies.read(event.tenant_id, event.id) or (None, None))[0]
        return None if body is None else body.decode("utf-8")

    @property
    def bodies(self) -> BodyStore:
        if self._bodies is None:
            self._bodies = BodyStore(self.store.bucket, BODIES_BUCKET.bodies_prefix)
        return self._bodies
