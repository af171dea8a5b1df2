"""The OpenAPI document as clients see the API: who may call what, and every refusal.

FastAPI describes routes and their models; this adds what it cannot see: the three ways to
authenticate (a signed-in browser's cookie, an integrator's API token, an edge device's token),
which operations take which, the error answers each may give (all in the one error envelope),
and the ingest body, which the route reads raw (gzip, size limit) rather than as a model.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import HTTP_ERROR_CODES
from app.ingest.schemas import BatchDocument

SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "ridethrough_session",
        "description": "A signed-in browser. State-changing requests also send the "
        "page's CSRF token as the X-CSRF-Token header.",
    },
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "rta_…",
        "description": "An API token from /admin or `create-token`: read or write, "
        "some sites or all, until it expires.",
    },
    "deviceToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "rte_…",
        "description": "An edge device's token, bound to one site.",
    },
}
PUBLIC = frozenset({"/healthz", "/readyz"})
DEVICE_PREFIXES = ("/api/v1/ingest", "/api/v1/edge/")
ERROR_EXAMPLES = {
    401: "unknown API token",
    403: "a viewer may not command here",
    404: "no site with code 'north-quay'",
    409: "string 2 already has a command in flight",
    422: "the request is invalid",
    429: "too many requests at once; retry after the time given",
}
WHY = {
    400: "The body is not JSON (or not UTF-8) and cannot be read at all.",
    401: "Not authenticated: no credentials, or unknown, expired or revoked ones (the message "
    "says which).",
    403: "Authenticated, but not allowed: the role or token may not do this, or a browser "
    "request lacks its CSRF token.",
    409: "Conflicts with the current state (e.g. a command already in flight).",
    422: "The request is invalid: `details` names each field, its value and why.",
    429: "Too many requests; `Retry-After` says when to try again.",
}


def error_schema() -> dict[str, Any]:
    """The envelope every error answer uses."""
    detail = {
        "type": "object",
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "value": {}},
    }
    inner = {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": detail},
        },
    }
    return {"type": "object", "required": ["error"], "properties": {"error": inner}}


def error_answer(status: int, description: str) -> dict[str, Any]:
    """An error response referring to the envelope, with an example."""
    code = HTTP_ERROR_CODES.get(status, "http_error")
    message = ERROR_EXAMPLES.get(status, description)
    example = {"error": {"code": code, "message": message, "details": []}}
    body = {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}
    answer: dict[str, Any] = {"description": description, "content": {"application/json": body}}
    if status == 429:
        answer["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
        }
    return answer


def refusals(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The refusals an operation may give, besides those its route declares."""
    if path in PUBLIC:
        return []
    statuses = [401, 422]
    if "requestBody" in operation:
        statuses.append(400)
    if method != "get" or path.startswith(DEVICE_PREFIXES):
        statuses.append(403)  # a role, a read-only token, or another site's device
    if path.endswith(("/export", "/telemetry")):
        statuses.append(429)
    return statuses


def security_of(path: str) -> list[dict[str, list[str]]]:
    """Who may call an operation: nobody in particular, a device, or a person or integrator."""
    if path in PUBLIC:
        return []
    if path.startswith(DEVICE_PREFIXES):
        return [{"deviceToken": []}]
    return [{"apiToken": []}, {"session": []}]


def document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    """Security and refusals of one operation."""
    operation["security"] = security_of(path)
    responses = operation.setdefault("responses", {})
    declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    for status in sorted(declared | set(refusals(path, method, operation))):
        existing = responses.get(str(status), {})
        description = existing.get("description") or WHY.get(status, "Refused")
        if status == 422 and "content" in existing:
            continue  # FastAPI's own validation answer; its schema is replaced below
        responses[str(status)] = error_answer(status, WHY.get(status, description))


def ingest_body(schema: dict[str, Any]) -> None:
    """The batch an edge uploads (JSON, optionally gzip-encoded), with an example."""
    batch = BatchDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["components"]["schemas"].update(batch.pop("$defs", {}))
    schema["components"]["schemas"]["Batch"] = batch
    operation = schema["paths"]["/api/v1/ingest"]["post"]
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"},
                "example": batch["examples"][0],
            }
        },
        "description": "A batch of samples and events; may be sent with `Content-Encoding: gzip`.",
    }


def describe(app: FastAPI) -> dict[str, Any]:
    """The whole document (built once)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
        components = schema.setdefault("components", {})
        components["securitySchemes"] = SECURITY_SCHEMES
        components.setdefault("schemas", {})["Error"] = error_schema()
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                document_operation(path, method, operation)
        _validation_answers_use_the_envelope(schema)
        ingest_body(schema)
        _only_the_pattern_keys(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _validation_answers_use_the_envelope(schema: dict[str, Any]) -> None:
    # The app answers 422 with its error envelope, not FastAPI's HTTPValidationError.
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "422" in operation.get("responses", {}):
                operation["responses"]["422"] = error_answer(422, WHY[422])
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)


def _only_the_pattern_keys(node: Any) -> None:
    # A dict with constrained keys (pydantic: patternProperties) refuses any other key; say so,
    # or clients (and schemathesis) take any key for valid.
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _only_the_pattern_keys(value)
    elif isinstance(node, list):
        for value in node:
            _only_the_pattern_keys(value)


def install_openapi(app: FastAPI) -> None:
    """Serve the described document at the app's OpenAPI URL."""
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
