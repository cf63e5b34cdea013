"""One JSON error shape for every error the API returns, mapped once from ``axhub.errors``.

Shape (pinned by ``tests/api/test_errors.py``)::

    {"error": {"status": 403, "type": "PolicyDenied", "message": "...", "fields": {...}}}

``AxhubError`` subclasses carry their HTTP status (``http_status``); FastAPI's own request
validation becomes 422 with each problem's field path; an unknown exception becomes 500 with
a generic message (the detail goes to the log, never to the caller).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from axhub.errors import AxhubError

log = logging.getLogger(__name__)

#: fields never echoed to a caller (SQL text can hold another caller's filters)
HIDDEN_FIELDS = frozenset({"sql"})


class ErrorBody(BaseModel):
    status: int
    type: str
    message: str
    fields: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """The one error shape."""

    error: ErrorBody


def error_response(
    status: int,
    kind: str,
    message: str,
    fields: dict[str, Any] | None = None,
    request: Request | None = None,
) -> Response:
    """The one error shape; dashboard pages (``/web/``) get it rendered as a page instead."""
    if request is not None and request.url.path.startswith("/web/"):
        render = getattr(request.app.state, "render_error", None)
        if render is not None:
            page: Response = render(request, status, kind, message)
            return page
    body = {"status": status, "type": kind, "message": message, "fields": fields or {}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _axhub(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AxhubError)
    if exc.http_status >= 500:
        log.error("request failed: %s", type(exc).__name__)
    fields = {k: _jsonable(v) for k, v in exc.fields.items() if k not in HIDDEN_FIELDS}
    return error_response(exc.http_status, type(exc).__name__, exc.message, fields, request)


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
        for e in exc.errors()
    ]
    return error_response(422, "InputError", "invalid request", {"problems": problems}, request)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = {401: "Unauthorized", 403: "PolicyDenied", 404: "NotFoundError"}.get(
        exc.status_code, "HTTPError"
    )
    return error_response(exc.status_code, kind, str(exc.detail), None, request)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "InternalError", "internal error", None, request)


def install(app: FastAPI) -> None:
    """Map every error to the one shape."""
    app.add_exception_handler(AxhubError, _axhub)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


#: OpenAPI ``responses`` entry for routes: every error status uses the one shape
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 403, 404, 409, 422, 500)
}
