"""Every error in the contract's shape: `{"error": "<human readable>", "details": <optional>}`.

Request validation is a 400 listing each bad field (never FastAPI's 422); unknown routes and methods
are 404/405 in the same shape; an unexpected failure is a 500 without a stack trace.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.observability import logger

NOT_AUTHENTICATED = "Not authenticated"
_HTTP_ERROR_MESSAGES = {404: "Not found", 405: "Method not allowed"}


class ErrorBody(BaseModel):
    error: str
    details: Any = None


class RateLimitedBody(BaseModel):
    """A 429 (shared/store/rate_limits.py writes it), with the `Retry-After` header."""

    error: str
    code: Literal["RATE_LIMITED"]
    retryAfter: int = Field(ge=0, description="Whole seconds to wait, as in `Retry-After`")


class ApiError(Exception):
    """A failure the caller should see as it is: status, message and optional details."""

    def __init__(self, status_code: int, error: str, details: Any = None) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.details = details


class NotAuthenticated(ApiError):
    def __init__(self) -> None:
        super().__init__(401, NOT_AUTHENTICATED)


class Forbidden(ApiError):
    def __init__(self, needed: str) -> None:
        super().__init__(403, "Forbidden", f"needs scope {needed}")


class NotFound(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found")


def invalid(field: str, where: str, message: str) -> ApiError:
    """A 400 about one parameter, shaped like the validation errors FastAPI reports."""
    return ApiError(400, "Invalid request", [{"field": field, "in": where, "message": message}])


def error_response(
    status_code: int, error: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": error}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field_errors(error: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ())]
        where = location[0] if location else "request"
        if problem.get("type") == "json_invalid":
            fields.append({"field": "body", "in": "body", "message": "Body is not valid JSON"})
            continue
        fields.append(
            {
                "field": ".".join(location[1:]) or where,
                "in": where,
                "message": str(problem.get("msg", "invalid")),
            }
        )
    return fields


async def _on_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.error, error.details)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(400, "Invalid request", _field_errors(error))


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    message = _HTTP_ERROR_MESSAGES.get(error.status_code) or str(error.detail)
    headers = getattr(error, "headers", None)
    allowed = _allowed_methods(request) if error.status_code == 405 else None
    if allowed:
        # Starlette names only the first route matching the path; a path has one route per method.
        headers = {**(headers or {}), "Allow": allowed}
    return error_response(error.status_code, message, headers=headers)


def _allowed_methods(request: Request) -> str | None:
    """The methods the API documents for this path (the OpenAPI document is the list of routes)."""
    # The route's path: without the REST API's stage (functions/api/handler.py), as the routes are.
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    for template, operations in request.app.openapi().get("paths", {}).items():
        parts = re.split(r"(\{[^}]*\})", template)
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        if re.fullmatch(pattern, path):
            return ", ".join(sorted(method.upper() for method in operations))
    return None


async def _on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path, "method": request.method})
    return error_response(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)


ERROR_DESCRIPTIONS = {
    400: "Invalid request: `details` lists each bad field",
    401: "Not authenticated",
    403: "Forbidden: the credential's scope is too small (`details` names the scope needed)",
    404: "Not found (also another tenant's resource)",
    413: "Body too large",
    429: "Too many requests from this client: retry after `retryAfter` seconds",
    500: "Internal server error",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route can answer, so the document matches what is served."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in status_codes}
