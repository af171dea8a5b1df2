"""One error body shape for the JSON API: {"error": {"code", "message", "details"}}."""

import logging
import math
import time
from collections import Counter
from typing import Any

import psycopg
from fastapi import FastAPI, Request, params
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

log = logging.getLogger(__name__)


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The error envelope every JSON error uses."""
    return {"error": {"code": code, "message": message, "details": details or []}}


HTTP_ERROR_CODES = {
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
    503: "service_unavailable",
}


def wants_html(request: Request) -> bool:
    """Browser routes get an HTML error page; the JSON API and scripts get the envelope."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    if wants_html(request):
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status_code": exc.status_code, "message": exc.detail},
            status_code=exc.status_code,
        )
    # A handler may pass a whole error body (with per-field details) as the detail.
    body = exc.detail if isinstance(exc.detail, dict) else error_body(code, str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route takes on this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


ECHO_CHARS = 200  # how much of a refused value an error echoes back


def echo_value(value: Any) -> Any:
    """A refused value as JSON can carry it: raw bytes as (shortened) text, anything else
    FastAPI can encode, else its short repr."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value[: ECHO_CHARS * 4]).decode("utf-8", "replace")
        return text[:ECHO_CHARS]
    try:
        return jsonable_encoder(value)
    except (TypeError, ValueError):
        return repr(value)[:ECHO_CHARS]


def _not_json(request: Request, exc: RequestValidationError) -> bool:
    """Whether a route's JSON body was sent as some other media type (FastAPI then validates
    the raw bytes, and the errors are about the media type, not the fields)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None or isinstance(body_field.field_info, params.Form):
        return False  # no body expected, or a form: its errors are about its fields
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_errors = [e for e in exc.errors() if e["loc"][:1] == ("body",)]
    return bool(body_errors) and bool(media_type) and not media_type.endswith("json")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _not_json(request, exc):
        media_type = request.headers.get("content-type", "")
        message = f"the body must be JSON (Content-Type: application/json), not {media_type!r}"
        details = [{"field": "header.content-type", "message": message, "value": media_type}]
        return JSONResponse(error_body("unsupported_media_type", message, details), 415)
    details = [
        {
            "field": ".".join(str(p) for p in err["loc"]),
            "message": err["msg"],
            "value": echo_value(err.get("input")),
        }
        for err in exc.errors()
    ]
    body = error_body("validation_error", "the request is invalid", details)
    return JSONResponse(body, status_code=422)


class ThrottledLog:
    """One line per kind of failure per window, with how many were left out: a database outage
    answers many requests a second, and a traceback each buried the log."""

    def __init__(self, logger: logging.Logger, window_s: float = 10.0) -> None:
        self.logger, self.window_s = logger, window_s
        self.last: dict[str, float] = {}
        self.quiet: Counter[str] = Counter()

    def warning(self, kind: str, message: str) -> None:
        """Log `message` unless this kind was logged within the window (then count it)."""
        now = time.monotonic()
        if now - self.last.get(kind, -math.inf) < self.window_s:
            self.quiet[kind] += 1
            return
        left_out = self.quiet.pop(kind, 0)
        more = f" ({left_out} more like it in the last {self.window_s:.0f} s)" if left_out else ""
        self.last[kind] = now
        self.logger.warning("%s%s", message, more)


DATABASE_LOG = ThrottledLog(log)
RETRY_AFTER_DATABASE_S = 5


# Errors that mean the database cannot serve right now (down, restarting, pool exhausted,
# statement timed out), as opposed to a bug.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, psycopg.OperationalError)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error is one of DATABASE_UNAVAILABLE."""
    return isinstance(exc, DATABASE_UNAVAILABLE)


def failure_kind(exc: BaseException) -> tuple[str, str]:
    """A short name for the failure, and its first line, for the log and the answer."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return type(cause).__name__, (str(cause).strip().splitlines() or [""])[0][:200]


async def _database_error(request: Request, exc: Exception) -> Response:
    kind, first_line = failure_kind(exc)
    DATABASE_LOG.warning(
        kind,
        f"database unavailable ({kind}: {first_line}) on "
        f"{request.method} {request.url.path}; answered 503",
    )
    if kind == "QueryCanceled":
        message = (
            "a database query ran past its time limit (RIDETHROUGH_DB_STATEMENT_TIMEOUT_S); "
            "ask for less, or retry"
        )
    else:
        message = "the database is unavailable right now; retry shortly"
    headers = {"Retry-After": str(RETRY_AFTER_DATABASE_S)}
    if wants_html(request):
        templates: Jinja2Templates = request.app.state.templates
        context = {"status_code": 503, "message": message}
        return templates.TemplateResponse(
            request, "error.html", context, status_code=503, headers=headers
        )
    return JSONResponse(error_body("service_unavailable", message), 503, headers=headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-request: nothing to answer, and not an error of ours."""
    log.info("client went away during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the shared envelope."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # By class, so they are answered where they happen; a handler for Exception runs in the
    # outermost middleware, which re-raises, and the server then logs a traceback for each.
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected_error)
