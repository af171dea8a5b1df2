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


def test_the_idle_transaction_timeout_outlasts_the_export_stall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Else the server would end a slow reader's transaction before the app drops it cleanly.
    monkeypatch.setenv("RIDETHROUGH_EXPORT_STALL_TIMEOUT_S", "60")
    monkeypatch.setenv("RIDETHROUGH_DB_IDLE_IN_TRANSACTION_TIMEOUT_S", "60")
    with pytest.raises(ValidationError, match="must be longer than RIDETHROUGH_EXPORT_STALL"):
        Settings(_env_file=None)
    monkeypatch.setenv("RIDETHROUGH_DB_IDLE_IN_TRANSACTION_TIMEOUT_S", "61")
    assert Settings(_env_file=None).db_idle_in_transaction_timeout_s == 61


def test_samples_may_be_as_old_as_raw_retention_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIDETHROUGH_RAW_RETENTION_DAYS", "90")
    assert Settings(_env_file=None).ingest_max_past.days == 90
    monkeypatch.setenv("RIDETHROUGH_INGEST_MAX_PAST_DAYS", "7")
    assert Settings(_env_file=None).ingest_max_past.days == 7
