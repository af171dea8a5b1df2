"""Schemathesis over every operation of /api/openapi.json, as four different callers: a write
token, a read token, an edge device's token and nobody. Every check schemathesis has (not only
"no 5xx": status codes, headers, content types and bodies as documented, bad input refused,
good input accepted, authentication not ignored...) and every phase, the stateful one too.

It runs the `schemathesis` command line, as CI or a developer would, with the configuration
written out below; a failure prints schemathesis's own report, with a curl line to reproduce.
"""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Recorded, TokenMaker
from tests.server import LiveServer

EXAMPLES = 8  # per operation and phase: the four runs take a few minutes on a shared machine
CONFIG = """
[generation]
max-examples = @EXAMPLES@

[parameters]
# A real site, so generated requests reach its data rather than a 404.
"path.code" = "@CODE@"

# The edge's long poll waits up to `wait` seconds by design: at 1 s the run stays short, and
# the default 10 s response-time check still holds for every other operation.
[[operations]]
include-path = "/api/v1/edge/commands"
include-method = "GET"
parameters = { "query.wait" = 1 }

# The one narrowed check, and why: some rules cannot be said in JSON Schema, so a request the
# schema allows may still be refused with a 422 naming the rule: opaque paging cursors (only
# one this list issued is valid), and rules across fields (a module position needs
# entity=module; a command's kind decides whether it names a string or a module; a batch's
# counter names must be printable in Unicode's sense, which no JSON Schema pattern states; a
# watch-list day must be one the health job has ranked; an Apprise URL must name a service
# Apprise knows, which only Apprise can tell).
# Only for these operations does positive_data_acceptance accept that 422; elsewhere it must
# not happen.
[[operations]]
include-path = [
    "/api/v1/sites", "/api/v1/sites/{code}/alarms", "/api/v1/sites/{code}/commands",
    "/api/v1/sites/{code}/isolations", "/api/v1/sites/{code}/modules",
    "/api/v1/sites/{code}/strings", "/api/v1/sites/{code}/telemetry",
    "/api/v1/sites/{code}/export", "/api/v1/edge/policy-actions", "/api/v1/ingest",
    "/api/v1/sites/{code}/health/watchlist", "/api/v1/health/watchlist",
    "/api/v1/me/notification-contact",
]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]
"""


@pytest.fixture
async def tokens(make_token: TokenMaker, recorded: Recorded) -> dict[str, str]:
    """The callers: Authorization header values (none for nobody)."""
    return {
        "write": f"Bearer {await make_token('write')}",
        "read": f"Bearer {await make_token('read', sites=[recorded.site.code])}",
        "device": f"Bearer {recorded.site.token}",
        "nobody": "",
    }


def schemathesis_run(server: LiveServer, config: Path, authorization: str) -> str:
    """One full run; the report, and whether it passed."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{server.url}/api/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-failures",
        "20",
        "--request-timeout",
        "30",
        "--seed",
        "19",
        "--no-color",
    ]
    if authorization:
        command += ["--header", f"Authorization:{authorization}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    return done.stdout


@pytest.mark.parametrize("caller", ["write", "read", "device", "nobody"])
def test_the_api_meets_its_schema(
    server: LiveServer, recorded: Recorded, tokens: dict[str, str], caller: str, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.replace("@EXAMPLES@", str(EXAMPLES)).replace("@CODE@", recorded.site.code)
    )
    report = schemathesis_run(server, config, tokens[caller])
    assert "Stateful" in report  # the stateful phase ran


def test_the_document_declares_who_may_call_and_every_refusal(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/api/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"session", "apiToken", "deviceToken"}
    paths = document["paths"]
    assert paths["/api/v1/ingest"]["post"]["security"] == [{"deviceToken": []}]
    assert paths["/healthz"]["get"]["security"] == []
    command = paths["/api/v1/sites/{code}/commands"]["post"]
    assert command["security"] == [{"apiToken": []}, {"session": []}]
    assert {"401", "403", "409", "422"} <= set(command["responses"])
    assert "429" in paths["/api/v1/sites/{code}/export"]["get"]["responses"]
    body = paths["/api/v1/ingest"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Batch"}
    assert body["example"]["schema"] == "ridethrough.telemetry.v1"
    assert "ModuleRow" in document["components"]["schemas"]
