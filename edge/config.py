"""Typed settings for the edge collector, read from RIDETHROUGH_EDGE_* environment variables."""

from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EdgeSettings(BaseSettings):
    """Process-level edge settings; the site's buses and protocol come from its config file."""

    model_config = SettingsConfigDict(env_prefix="RIDETHROUGH_EDGE_", extra="ignore")

    backend_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    token: SecretStr = SecretStr("")
    site_config: Path = Path("edge/sites/north-quay.toml")
    spool_path: Path | None = None  # default: .data/edge/<site code>.sqlite3
    # The backfill's own spool; it also records which history was stored (so it runs once).
    history_spool_path: Path | None = None  # default: .data/history/<site code>.sqlite3
    log_level: str = "INFO"
    drain_timeout_s: float = Field(default=30.0, ge=0)

    def spool_for(self, site_code: str) -> Path:
        """The spool file of a site."""
        return self.spool_path or Path(".data/edge") / f"{site_code}.sqlite3"

    def history_spool_for(self, site_code: str) -> Path:
        """The spool file of a site's backfilled history (kept: it marks the history done)."""
        return self.history_spool_path or Path(".data/history") / f"{site_code}.sqlite3"
