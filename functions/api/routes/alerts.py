"""Where a tenant's alerts go and when they fire (shape in shared/API.md, behaviour in shared/alerts.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from functions.api.deps import Audit, CurrentPrincipal, Services
from functions.api.errors import invalid
from shared.store.alerts import AlertSettings
from shared.webhooks import MAX_URL_LENGTH, WebhookRefused

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _ascending(thresholds: list[int]) -> list[int]:
    if len(set(thresholds)) != len(thresholds):
        raise ValueError("Thresholds must differ")
    return sorted(thresholds)


class AlertSettingsBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
                    "budget_thresholds_pct": [80, 100],
                    "drift_threshold_pct": 5,
                    "notify_unrecorded": True,
                }
            ]
        },
    )

    webhook_url: str | None = Field(
        max_length=MAX_URL_LENGTH, description="https only, on a public address; null: no webhook"
    )
    budget_thresholds_pct: Annotated[
        list[Annotated[int, Field(ge=1, le=1000)]],
        Field(min_length=1, max_length=10),
        AfterValidator(_ascending),
    ]
    drift_threshold_pct: Annotated[Decimal, Field(gt=0, le=1000, max_digits=6, decimal_places=2)]
    notify_unrecorded: bool


class AlertSettingsView(BaseModel):
    webhook_url: str | None
    budget_thresholds_pct: list[int]
    drift_threshold_pct: float
    notify_unrecorded: bool


@router.get("", response_model=AlertSettingsView)
def get_alerts(principal: CurrentPrincipal, services: Services) -> dict[str, Any]:
    return services.alerts.store.settings(principal.tenant_id).public()


@router.put("", response_model=AlertSettingsView)
def put_alerts(
    body: AlertSettingsBody, principal: CurrentPrincipal, services: Services, audit: Audit
) -> dict[str, Any]:
    """The webhook is checked now (and again at each send): its host must resolve to public addresses."""
    if body.webhook_url is not None:
        try:
            services.alerts.channels.webhooks.policy.check(body.webhook_url)
        except WebhookRefused as refused:
            raise invalid("webhook_url", "body", str(refused)) from None
    settings = services.alerts.store.put_settings(
        principal.tenant_id,
        AlertSettings(
            webhook_url=body.webhook_url,
            budget_thresholds_pct=body.budget_thresholds_pct,
            drift_threshold_pct=body.drift_threshold_pct,
            notify_unrecorded=body.notify_unrecorded,
        ),
    )
    shown = settings.public()
    # A webhook URL often is its own credential (Slack's are): the trail keeps its host only.
    audited = {
        **shown,
        "webhook_url": None,
        "webhook_host": urlsplit(body.webhook_url).hostname if body.webhook_url else None,
    }
    audit.record(principal, "alerts.updated", "alerts", principal.tenant_id, audited)
    return shown
