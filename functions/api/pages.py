"""The page envelope every list returns, and its cursor bound to the tenant and the query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from functions.api.errors import invalid
from shared.store.base import Page as StorePage
from shared.store.pages import BadCursor, decode_cursor, encode_cursor

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    nextCursor: str | None  # camelCase, as the contract writes envelopes
    hasMore: bool


def page_of(model: type[BaseModel]) -> type[BaseModel]:
    """`Page[model]` for a model built at run time (`create_model`), which a type checker cannot
    take as a type argument."""
    return Page[model]  # type: ignore[valid-type]


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


@dataclass(frozen=True)
class PagedQuery:
    """One list query of one tenant; its cursors are refused for any other tenant or query."""

    tenant_id: str
    query: dict[str, Any]
    secret: bytes

    def start_key(self, request: PageRequest) -> dict[str, Any] | None:
        if request.cursor is None:
            return None
        try:
            return decode_cursor(request.cursor, self.tenant_id, self.query, self.secret)
        except BadCursor as error:
            raise invalid("cursor", "query", f"Invalid cursor: {error}") from error

    def envelope(self, page: StorePage, convert: Callable[[Any], Any]) -> dict[str, Any]:
        next_cursor = (
            encode_cursor(page.last_key, self.tenant_id, self.query, self.secret) if page.last_key else None
        )
        return {
            "items": [convert(item) for item in page.items],
            "nextCursor": next_cursor,
            "hasMore": next_cursor is not None,
        }
