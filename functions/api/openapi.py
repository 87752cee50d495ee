"""The OpenAPI document: every error an operation can answer, derived from what the operation declares.

A route declares its parameters, its body and its dependencies; each says which errors it brings:
credentials a 401, a scope the least key lacks a 403, a parameter a 400, a path id a 404, a body a
400 and a 413. The per-IP limit answers 429 on every route and anything can fail with a 500. So a
new route is documented as it is served without listing its errors; what only its code knows (the
bill check's 409, say) it declares itself, and keeps. FastAPI's 422 is never served (a 400 is).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from functions.api.deps import authenticates, scope_needed
from functions.api.errors import ERROR_DESCRIPTIONS, ErrorBody, RateLimitedBody
from shared.models import scope_covers

_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_RATE_LIMITED = {"$ref": "#/components/schemas/RateLimitedBody"}
_RETRY_AFTER = {
    "description": "Whole seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def document(app: FastAPI) -> dict[str, Any]:
    """The app's document, built once."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    # The routes as FastAPI documents them: each with its routers' prefixes and dependencies.
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                _document_errors(operation["responses"], possible_errors(route.dependant, method))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in (ErrorBody, RateLimitedBody):
        components[model.__name__] = model.model_json_schema()
    app.openapi_schema = schema
    return schema


def possible_errors(operation: Dependant, method: str) -> set[int]:
    """The error statuses a request to this operation can be answered with."""
    errors = {429, 500}
    dependencies = list(_dependencies(operation))
    if any(authenticates(dependant.call) for dependant in dependencies):
        errors.add(401)
    for dependant in dependencies:
        needed = scope_needed(dependant.call, method)
        if needed is not None and not scope_covers("read", needed):  # the least scope may not call it
            errors.add(403)
    if any(dependant.path_params for dependant in dependencies):
        errors |= {400, 404}
    if any(part.query_params or part.header_params or part.cookie_params for part in dependencies):
        errors.add(400)
    if any(dependant.body_params for dependant in dependencies):
        errors |= {400, 413}
    return errors


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _dependencies(dependency)


def _document_errors(responses: dict[str, Any], statuses: set[int]) -> None:
    """Adds the derived statuses to what the route declared, and gives every error the contract's shape."""
    responses.pop("422", None)
    for code in statuses:
        derived = ERROR_DESCRIPTIONS[code]
        response = responses.setdefault(str(code), {"description": derived})
        if derived not in response["description"]:  # the route's own reason, and the general one
            response["description"] += f"; or: {derived}"
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400 and "content" not in response:
            body = _RATE_LIMITED if status == "429" else _ERROR
            response["content"] = {"application/json": {"schema": body}}
    if "429" in responses:
        responses["429"].setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
