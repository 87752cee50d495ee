"""Typed dependencies the routes declare: the caller, the stores, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from functions.api.errors import NotAuthenticated
from functions.api.pages import PageRequest
from functions.api.services import ApiServices
from shared.models import Principal
from shared.store.api_keys import ApiKeyStore
from shared.store.audit import AuditStore
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


def current_principal(
    services: Services,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_cookie: Annotated[str | None, Depends(_session_cookie)],
) -> Principal:
    principal = services.principals.resolve(bearer.credentials if bearer else None, session_cookie)
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


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


Endpoints = Annotated[EndpointStore, Depends(_endpoint_store)]
ApiKeys = Annotated[ApiKeyStore, Depends(_api_key_store)]
Users = Annotated[UserStore, Depends(_user_store)]
Audit = Annotated[AuditStore, Depends(_audit_store)]
Usage = Annotated[UsageStore, Depends(_usage_store)]
