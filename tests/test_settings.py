"""Settings: env-prefixed, validated at start-up, no placeholder secrets outside development."""

import pytest
from pydantic import ValidationError

from app.config import Environment, Settings

REAL_URL = "postgresql+psycopg://app:Xq7-long-random@db:5432/ridethrough"


def test_development_accepts_the_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.env is Environment.DEVELOPMENT


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIDETHROUGH_DB_POOL_SIZE", "7")
    monkeypatch.setenv("RIDETHROUGH_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert (settings.db_pool_size, settings.log_level) == (7, "DEBUG")


@pytest.mark.parametrize("env", [Environment.PRODUCTION, Environment.TEST])
def test_placeholder_secret_key_is_refused(env: Environment) -> None:
    with pytest.raises(ValidationError, match="RIDETHROUGH_SECRET_KEY is a placeholder"):
        Settings(env=env, secret_key="changethis", database_url=REAL_URL)


def test_placeholder_database_password_is_refused() -> None:
    url = "postgresql+psycopg://ridethrough:ridethrough@db:5432/ridethrough"
    with pytest.raises(ValidationError, match="password in RIDETHROUGH_DATABASE_URL"):
        Settings(env=Environment.PRODUCTION, secret_key="k" * 40, database_url=url)


def test_production_with_real_secrets_starts() -> None:
    settings = Settings(env=Environment.PRODUCTION, secret_key="k" * 40, database_url=REAL_URL)
    assert settings.sqlalchemy_url == REAL_URL


def test_invalid_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIDETHROUGH_DB_POOL_SIZE", "lots")
    with pytest.raises(ValidationError, match="db_pool_size"):
        Settings()
