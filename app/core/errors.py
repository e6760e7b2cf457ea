"""One error hierarchy and one set of handlers rendering the Devopness error body.

Body: {"message": "...", "errors": {"field": ["..."]}}; `errors` only with field details.
Routers and services raise these; nothing else builds error JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]


class AppError(Exception):
    status_code = 400
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors: FieldErrors | None = (
            {k: list(v) for k, v in errors.items()} if errors else None
        )
        self.headers = dict(headers) if headers else None
        super().__init__(self.message)


class BadRequest(AppError):
    status_code = 400
    default_message = "The request could not be understood."


class Unauthenticated(AppError):
    status_code = 401
    default_message = "Unauthenticated."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    default_message = "This action is unauthorized."


class NotFound(AppError):
    status_code = 404
    default_message = "The requested resource was not found."


class MethodNotAllowed(AppError):
    status_code = 405
    default_message = "The method is not allowed for the requested URL."


class Conflict(AppError):
    status_code = 409
    default_message = "The request conflicts with the current state of the resource."


class UnsupportedMediaType(AppError):
    status_code = 415
    default_message = "The request body must be JSON (Content-Type: application/json)."


class ValidationFailed(AppError):
    status_code = 422
    default_message = "The given data was invalid."

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, {field: [message]})


class TooManyRequests(AppError):
    status_code = 429
    default_message = "Too many requests."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class BadGateway(AppError):
    """An upstream provider (cloud, git host) could not be reached or answered nonsense."""

    status_code = 502
    default_message = "The provider could not be reached."


def error_body(message: str, errors: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = {k: list(v) for k, v in errors.items()}
    return body


def error_response(
    status_code: int,
    message: str,
    errors: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(message, errors), status_code=status_code, headers=dict(headers or {})
    )


def _field_name(loc: Sequence[int | str]) -> str:
    # FastAPI prefixes locations with body/query/path/header; clients know only field names.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _humanize(error: Mapping[str, Any], field: str) -> str:
    kind = str(error.get("type", ""))
    label = field.replace("_", " ")
    if kind == "missing":
        return f"The {label} field is required."
    if kind == "json_invalid":
        return "The request body is not valid JSON."
    if kind in {"model_attributes_type", "dict_type"} and field == "body":
        return "The request body must be a JSON object."
    msg = str(error.get("msg", "is invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"The {label} field is invalid: {msg[0].lower() + msg[1:] if msg else msg}."


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> FieldErrors:
    result: FieldErrors = {}
    for error in errors:
        # An unparsable body reports the byte offset as its location; name the body instead.
        loc = ("body",) if error.get("type") == "json_invalid" else error.get("loc", ())
        field = _field_name(loc)
        result.setdefault(field, []).append(_humanize(error, field))
    return result


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.message, exc.errors, exc.headers)


def _required_body_fields(request: Request) -> list[str]:
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None)
    if not fields:
        return []
    return [name for name, info in fields.items() if info.is_required()]


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    # A call without a body: name each required field instead of one "body is required".
    expanded: list[Mapping[str, Any]] = []
    for error in raw:
        names = (
            _required_body_fields(request)
            if tuple(error.get("loc", ())) == ("body",) and error.get("type") == "missing"
            else []
        )
        if names:
            expanded.extend({"loc": ("body", name), "type": "missing"} for name in names)
        else:
            expanded.append(error)
    return error_response(422, ValidationFailed.default_message, validation_errors(expanded))


_HTTP_MESSAGES = {
    404: NotFound.default_message,
    405: MethodNotAllowed.default_message,
}


async def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    return error_response(exc.status_code, message, headers=exc.headers)


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # Services check uniqueness first; this is the race that slipped past the check.
    logger.info("integrity error answered with 409: %s", exc)
    return error_response(409, "The request conflicts with data stored by another request.")


async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
    # A value the schema let through but the database cannot hold (e.g. a huge number).
    logger.info("value rejected by the database: %s", exc)
    return error_response(422, "A value in the request is out of range.")


# SQLSTATE classes of a database that cannot serve now (PostgreSQL): connection exceptions,
# insufficient resources (too many connections), operator intervention (shutdown,
# restart). No SQLSTATE: the client could not reach it at all.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def database_unavailable(exc: OperationalError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    if state is None:
        # SQLite answers "database is locked" when a writer held it past busy_timeout; its
        # other operational errors (a missing table) are the server's own fault.
        return "locked" in str(exc.orig) or not hasattr(exc.orig, "sqlite_errorcode")
    return str(state).startswith(_UNAVAILABLE_SQLSTATES)


async def _operational_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if not database_unavailable(exc):
        return await _unhandled(request, exc)
    # The database refused or dropped the connection (down, restarting, out of
    # connections): nothing was done, and the client may try again shortly.
    logger.warning("database unavailable: %s", str(exc.orig).strip())
    return error_response(503, "The database is unavailable; try again shortly.",
                          headers={"Retry-After": "5"})


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(Exception, _unhandled)
