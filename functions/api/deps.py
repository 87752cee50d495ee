"""Typed dependencies the routes declare: the caller (authenticated and authorized), the stores, paging.

Authorization lives here, in one place: `CurrentPrincipal` lets a caller through when its scope
covers the request's method (`read` for GET and HEAD, `write` for anything else), `AdminPrincipal`
only with `admin`. A route that declares neither is open (health). A refusal is a 403 naming the
scope needed, and is audited with the caller as actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from functions.api.errors import Forbidden, NotAuthenticated
from functions.api.pages import PageRequest
from functions.api.services import ApiServices
from shared.models import Principal, Scope, scope_covers
from shared.store.api_keys import ApiKeyStore
from shared.store.audit import AuditStore
from shared.store.developers import DeveloperStore
from shared.store.endpoints import EndpointStore
from shared.store.usage_records import UsageStore
from shared.store.users import UserStore

# Declared as security schemes so the OpenAPI document shows both ways in; neither errors by itself.
_bearer = HTTPBearer(
    scheme_name="bearer",
    auto_error=False,
    description="A Codecosts API key (`sk_...`) or a Clerk session token",
)
_session_cookie = APIKeyCookie(
    name="__session", scheme_name="clerkSession", auto_error=False, description="Clerk session cookie"
)


def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def _authenticated(
    services: Services,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_cookie: Annotated[str | None, Depends(_session_cookie)],
) -> Principal:
    principal = services.principals.resolve(bearer.credentials if bearer else None, session_cookie)
    if principal is None:
        raise NotAuthenticated()
    return principal


_MAX_AUDITED_PATH = 200


# Each scope check this module made, with the scope it asks for: the OpenAPI document reads it.
_SCOPE_CHECKS: dict[Callable[..., object], Scope | None] = {}


def _scope_for(needed: Scope | None, method: str) -> Scope:
    return needed or ("read" if method in ("GET", "HEAD") else "write")


def _authorized(needed: Scope | None) -> Callable[..., Principal]:
    """The dependency that admits a caller whose scope covers `needed` (None: the method's scope)."""

    def authorize(
        request: Request, principal: Annotated[Principal, Depends(_authenticated)], services: Services
    ) -> Principal:
        scope = _scope_for(needed, request.method)
        if scope_covers(principal.scope, scope):
            return principal
        services.audit.record(
            principal,
            "access.denied",
            "route",
            # The path names what was tried (which key, which endpoint); bounded, as the caller chose it.
            f"{request.method} {request.url.path[:_MAX_AUDITED_PATH]}",
            {"needs": scope, "scope": principal.scope},
        )
        raise Forbidden(scope)

    _SCOPE_CHECKS[authorize] = needed
    return authorize


def authenticates(call: Callable[..., object] | None) -> bool:
    """Whether a dependency asks for credentials (and so answers 401 without them)."""
    return call is _authenticated


def scope_needed(call: Callable[..., object] | None, method: str) -> Scope | None:
    """The scope a dependency requires of a request with this method; None when it checks no scope."""
    if call is None or call not in _SCOPE_CHECKS:
        return None
    return _scope_for(_SCOPE_CHECKS[call], method)


CurrentPrincipal = Annotated[Principal, Depends(_authorized(None))]
AdminPrincipal = Annotated[Principal, Depends(_authorized("admin"))]


def page_request(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="`nextCursor` of the previous page")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageParams = Annotated[PageRequest, Depends(page_request)]


def _endpoint_store(services: Services) -> EndpointStore:
    return services.endpoints


def _api_key_store(services: Services) -> ApiKeyStore:
    return services.api_keys


def _user_store(services: Services) -> UserStore:
    return services.users


def _audit_store(services: Services) -> AuditStore:
    return services.audit


def _usage_store(services: Services) -> UsageStore:
    return services.usage


def _developer_store(services: Services) -> DeveloperStore:
    return services.developers


Endpoints = Annotated[EndpointStore, Depends(_endpoint_store)]
ApiKeys = Annotated[ApiKeyStore, Depends(_api_key_store)]
Users = Annotated[UserStore, Depends(_user_store)]
Audit = Annotated[AuditStore, Depends(_audit_store)]
Usage = Annotated[UsageStore, Depends(_usage_store)]
Developers = Annotated[DeveloperStore, Depends(_developer_store)]
