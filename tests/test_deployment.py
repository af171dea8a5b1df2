"""docker-compose.yml sets exactly the variables the settings read, with values they accept."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from app.config import PROJECT_ROOT, Environment, Settings
from edge.config import EdgeSettings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
# ${NAME:?message} and ${NAME:-default} stand for values the operator supplies.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::[?-][^}]*)?\}")
OPERATOR_VALUES = {
    "RIDETHROUGH_DB_PASSWORD": "Qv9-not-a-placeholder",
    "RIDETHROUGH_SECRET_KEY": "s" * 48,
    "RIDETHROUGH_EDGE_TOKEN": "edge-token-value",
}


def compose() -> dict[str, Any]:
    """The compose file with operator-supplied values filled in."""
    text = INTERPOLATION.sub(lambda m: OPERATOR_VALUES[m.group(1)], COMPOSE.read_text())
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def service_env(service: str) -> dict[str, str]:
    """The environment a compose service sets."""
    env: dict[str, str] = compose()["services"][service].get("environment", {})
    return {k: str(v) for k, v in env.items()}


def env_fields(settings_class: type[BaseSettings]) -> set[str]:
    """The variable names a settings class reads."""
    prefix = settings_class.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings_class.model_fields}


@pytest.mark.parametrize("service", ["migrate", "app"])
def test_backend_services_set_only_variables_the_settings_read(service: str) -> None:
    env = service_env(service)
    assert set(env) <= env_fields(Settings)
    assert {"RIDETHROUGH_DATABASE_URL", "RIDETHROUGH_SECRET_KEY", "RIDETHROUGH_ENV"} <= set(env)


def test_backend_settings_accept_the_compose_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in service_env("app").items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.database_url.hosts()[0]["host"] == "db"


def test_edge_service_sets_only_variables_the_edge_settings_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = service_env("edge-sim")
    assert set(env) <= env_fields(EdgeSettings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = EdgeSettings()
    assert str(settings.backend_url).startswith("http://app:8000")
    assert settings.token.get_secret_value() == OPERATOR_VALUES["RIDETHROUGH_EDGE_TOKEN"]


def test_the_edge_is_given_time_to_drain_before_docker_kills_it() -> None:
    edge = compose()["services"]["edge-sim"]
    grace = re.fullmatch(r"(\d+)s", edge["stop_grace_period"])
    assert grace is not None, edge["stop_grace_period"]
    assert int(grace.group(1)) > EdgeSettings.model_fields["drain_timeout_s"].default


def test_database_image_is_pinned_and_health_checked() -> None:
    db = compose()["services"]["db"]
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg\d+", db["image"])
    assert "healthcheck" in db


def test_dockerfile_copies_what_the_app_needs() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for folder in ("app", "edge", "migrations", "static", "templates"):
        assert f"COPY {folder} " in dockerfile
        assert Path(PROJECT_ROOT / folder).is_dir()
