"""Typed settings for the backend, read once from RIDETHROUGH_* environment variables."""

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, PostgresDsn, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "secret", "ridethrough", "dev"})
DEV_DATABASE_URL = "postgresql+psycopg://ridethrough:ridethrough@127.0.0.1:55432/ridethrough"


class Environment(StrEnum):
    """Where the process runs; only development tolerates placeholder secrets."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Backend configuration; each field is RIDETHROUGH_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="RIDETHROUGH_", env_file=None, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: PostgresDsn = Field(default=PostgresDsn(DEV_DATABASE_URL))
    secret_key: SecretStr = SecretStr("changethis")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Server-side bounds on every connection: one statement, and a transaction left idle (a
    # client that stopped reading, a stuck handler) end on the server whatever the app does.
    db_statement_timeout_s: float = Field(default=30.0, gt=0)
    db_idle_in_transaction_timeout_s: float = Field(default=60.0, gt=0)
    # Exports stream from a pool of their own, so they can never take ingest's connections.
    export_max_concurrent: int = Field(default=4, ge=1, le=100)  # in total, per app process
    export_max_per_caller: int = Field(default=2, ge=1, le=100)  # per user or API token
    export_max_values: int = Field(default=100_000_000, ge=1)  # entities x samples x fields
    export_statement_timeout_s: float = Field(default=120.0, gt=0)  # one slice's query or fetch
    export_stall_timeout_s: float = Field(default=30.0, gt=0)  # a client not reading is dropped
    export_chunks_per_query: int = Field(default=200, ge=1, le=5000)  # locks one query may take
    retention_chunks_per_step: int = Field(default=20, ge=1, le=1000)  # chunks per transaction
    log_level: str = "INFO"
    ingest_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    ingest_max_future_s: float = Field(default=300.0, ge=0)
    # Samples older than this are refused (default: the raw retention age, past which they
    # would be dropped at the next retention run); each would otherwise make its own chunk.
    ingest_max_past_days: float | None = Field(default=None, gt=0)
    # An edge whose clock is further than this from the server's raises edge_clock_skew.
    # Batches of one site that fail to store in a row before ingest_failing is raised.
    ingest_failure_alarm_after: int = Field(default=3, ge=1)
    ingest_clock_skew_alarm_s: float = Field(default=30.0, gt=0)
    jobs_enabled: bool = True  # rollups and retention inside the app (safe with several processes)
    rollup_interval_s: float = Field(default=20.0, gt=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    health_interval_s: float = Field(default=600.0, gt=0)  # the daily health job looks this often
    raw_retention_days: float = Field(default=30.0, gt=0)
    rollup_retention_days: float = Field(default=730.0, gt=0)
    # Reverse proxies whose X-Forwarded-For (and -Proto) is believed: addresses or networks,
    # comma-separated. Empty: the connection's own address is the client (no proxy).
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    # Concurrent /live streams one user (or token) may hold in one app process.
    live_streams_per_user: int = Field(default=8, ge=1, le=1000)
    # How often an idle /live stream sends a heartbeat and checks its session is still valid.
    live_heartbeat_s: float = Field(default=15.0, gt=0, le=300)
    # Watchdog: a site or edge with no batch for this long raises site_offline / edge_silent.
    watchdog_data_age_s: float = Field(default=60.0, gt=0)
    watchdog_interval_s: float = Field(default=5.0, gt=0)
    # Notifications: how often the outbox is worked, and how deliveries are retried.
    notify_interval_s: float = Field(default=2.0, gt=0)
    notify_max_attempts: int = Field(default=5, ge=1, le=100)
    notify_backoff_s: float = Field(default=5.0, gt=0)  # doubles after each failed attempt
    notify_timeout_s: float = Field(default=10.0, gt=0, le=50)  # one SMTP or webhook exchange
    # ISA-18.2 flood: more alarms than this at one site within the window go into one digest
    # per recipient, sent when the window ends, instead of a message each.
    flood_alarms: int = Field(default=10, ge=1)
    flood_window_s: float = Field(default=600.0, gt=0)
    # ISA-18.2 chattering: the same alarm raised this many times within the window; its
    # raises and clears then go into one digest per site and window.
    chatter_raises: int = Field(default=3, ge=2)
    chatter_window_s: float = Field(default=60.0, gt=0)
    # An alarm change recorded longer than this after it happened (a backfill) notifies nobody.
    notify_max_age_s: float = Field(default=3600.0, gt=0)
    # `make run`'s local SMTP sink keeps what it catches here (a Maildir); the admin page lists it.
    mail_sink_dir: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_from: str = "Ridethrough <ridethrough@localhost>"
    # The address people open the app at, for links in messages.
    public_url: str = "http://127.0.0.1:8000"
    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "static"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """'10.0.0.1, 10.1.0.0/16' from the environment; each an address or a network."""
        if isinstance(value, str):
            return [
                ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()
            ]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        """Outside development, a placeholder secret or database password is a start-up error."""
        if self.env is Environment.DEVELOPMENT:
            return self
        if self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError(
                f"RIDETHROUGH_SECRET_KEY is a placeholder; set a random value in env={self.env}"
            )
        password = self.database_url.hosts()[0].get("password") or ""
        if password in PLACEHOLDER_SECRETS:
            raise ValueError(
                f"the password in RIDETHROUGH_DATABASE_URL is a placeholder; set a real one in "
                f"env={self.env}"
            )
        return self

    @model_validator(mode="after")
    def _stall_before_server_timeout(self) -> Self:
        """The app drops a stalled export before the server ends its idle transaction."""
        if self.db_idle_in_transaction_timeout_s <= self.export_stall_timeout_s:
            raise ValueError(
                "RIDETHROUGH_DB_IDLE_IN_TRANSACTION_TIMEOUT_S must be longer than "
                "RIDETHROUGH_EXPORT_STALL_TIMEOUT_S"
            )
        return self

    @property
    def ingest_max_past(self) -> timedelta:
        """How old a sample may be and still be stored."""
        return timedelta(days=self.ingest_max_past_days or self.raw_retention_days)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL as SQLAlchemy wants it."""
        return str(self.database_url)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return Settings()
