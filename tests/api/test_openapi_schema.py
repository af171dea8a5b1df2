"""Schemathesis against /api/openapi.json: generated requests never cause a 5xx, and every
answer matches the documented schema and content type."""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.conftest import Recorded, TokenMaker
from tests.server import LiveServer

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
async def write_token(make_token: TokenMaker) -> str:
    """An API token that may do everything the API offers."""
    return await make_token("write")


def test_the_api_meets_its_schema(server: LiveServer, recorded: Recorded, write_token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")
    headers = {"Authorization": f"Bearer {write_token}"}
    failures = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            if "code" in (case.path_parameters or {}):
                # A real site, so the generated queries reach the data rather than a 404.
                case.path_parameters["code"] = recorded.site.code
            case.call_and_validate(base_url=server.url, checks=CHECKS, headers=headers)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert failures == []
