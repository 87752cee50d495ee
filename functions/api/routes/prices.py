"""`GET /api/prices?model=`: the prices, tiers and multipliers the running code applies to a model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from functions.api.deps import CurrentPrincipal
from functions.api.errors import NotFound, error_responses
from functions.api.schemas import PriceSheet
from shared.timefmt import utc_now

router = APIRouter(prefix="/prices", tags=["prices"], responses=error_responses(404))


# Any signed-in caller may read prices (`read` scope): they are the same for every tenant.
@router.get("", response_model=PriceSheet)
def model_prices(
    _principal: CurrentPrincipal,
    model: Annotated[str, Query(min_length=1, max_length=100, description="A model id as sent to Anthropic")],
) -> dict[str, Any]:
    """Per-million prices as of now; the cost of a record is computed the same way at its own time."""
    # The price tables load on the first request that needs them, not with the API (cold starts).
    from shared.pricing import price_sheet

    sheet = price_sheet(model, utc_now())
    if sheet is None:
        raise NotFound("Model")
    return sheet
