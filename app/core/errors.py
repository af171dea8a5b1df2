"""One error body shape for the JSON API: {"error": {"code", "message", "details"}}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
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
    allowed = [method for method in METHODS
               if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                      for route in routes)]  # fmt: skip
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"],
         "value": _shown(err.get("input"))}
        for err in exc.errors()
    ]  # fmt: skip
    body = error_body("validation_error", "the request is invalid", details)
    return JSONResponse(body, status_code=422)


def _shown(value: object) -> object:
    """A refused input as JSON can carry it: a body that is not JSON arrives as bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the shared envelope."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
