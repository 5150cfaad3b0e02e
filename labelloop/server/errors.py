"""Every error the API answers is JSON ``{"error", "detail", "field"}`` with a 4xx code.

labelloop's own errors map to status codes here, once::

    ValidationError        422  validation_error   (field: the argument or field at fault)
    ValueError             422  validation_error
    NotFoundError          404  not_found
    PermissionDeniedError  403  forbidden
    ThrottledError         429  too_many_requests  (with Retry-After)
    ConflictError          409  conflict
    IntegrityError         409  conflict           (a race on a unique constraint)
    PoolExhaustedError     409  pool_exhausted
    AuditChainError        409  audit_chain_broken
    ApiError               its own status (401 unauthorized, 413 payload_too_large, ...)

Anything else is a bug: it is logged with its traceback and answered 500 with no detail.
"""

from __future__ import annotations

import logging
from collections.abc import Sized
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelloop.exceptions import (
    AuditChainError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PoolExhaustedError,
    ThrottledError,
    ValidationError,
)

__all__ = ["ApiError", "check_batch_size", "error_response", "install_error_handlers"]

logger = logging.getLogger("labelloop.server")

_LABELLOOP_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (ValidationError, 422, "validation_error"),
    (NotFoundError, 404, "not_found"),
    (PermissionDeniedError, 403, "forbidden"),
    (ThrottledError, 429, "too_many_requests"),
    (PoolExhaustedError, 409, "pool_exhausted"),
    (AuditChainError, 409, "audit_chain_broken"),
    (ConflictError, 409, "conflict"),
    # Two requests racing to create the same thing: the database's constraint answers.
    (IntegrityError, 409, "conflict"),
    # Engine functions may also raise a plain ValueError naming the bad argument.
    (ValueError, 422, "validation_error"),
)

_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An HTTP-level refusal (no token, wrong role, body too large) with its status code.

    Parameters
    ----------
    status_code : int
        The 4xx code to answer.
    detail : str
        What is wrong and what to do, for the caller.
    field : str, optional
        The header, parameter or field at fault.
    headers : dict, optional
        Extra response headers (``WWW-Authenticate`` for 401).
    """

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.field = field
        self.headers = headers


def check_batch_size(items: Sized, *, limit: int, field: str) -> None:
    """Refuse (413) more than ``limit`` ``items`` in one request, naming the ``field``."""
    if len(items) > limit:
        raise ApiError(
            413,
            f"{len(items)} {field} in one request: send at most {limit} per request",
            field=field,
        )


def _error_name(status_code: int) -> str:
    if status_code in _ERROR_NAMES:
        return _ERROR_NAMES[status_code]
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_response(
    status_code: int,
    detail: str,
    *,
    field: str | None = None,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON error response every failure path uses."""
    body = {"error": error or _error_name(status_code), "detail": detail, "field": field}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field_from_loc(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(loc[0]) if loc else None)


async def _on_labelloop_error(_request: Request, exc: Exception) -> JSONResponse:
    for kind, status_code, name in _LABELLOOP_ERRORS:
        if isinstance(exc, kind):
            if isinstance(exc, IntegrityError):
                detail = "this conflicts with data that exists already: reload and retry"
                return error_response(status_code, detail, error=name)
            if isinstance(exc, ThrottledError):
                return error_response(
                    status_code,
                    str(exc),
                    field=exc.field,
                    error=name,
                    headers={"Retry-After": str(exc.retry_after)},
                )
            return error_response(
                status_code, str(exc), field=getattr(exc, "field", None), error=name
            )
    return await _on_unexpected(_request, exc)


async def _on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status_code, exc.detail, field=exc.field, headers=exc.headers)


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else _error_name(exc.status_code)
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _on_request_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if not errors:
        return error_response(422, "invalid request")
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    field = _field_from_loc(loc)
    if first.get("type") == "json_invalid":
        return error_response(422, "the request body is not valid JSON", field="body")
    message = first.get("msg", "invalid value")
    detail = f"{field}: {message}" if field else message
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return error_response(422, detail, field=field)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error: the server logged it", error="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the JSON error body."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for kind, _status, _name in _LABELLOOP_ERRORS:
        app.add_exception_handler(kind, _on_labelloop_error)
    app.add_exception_handler(Exception, _on_unexpected)
