"""Typed settings for the edge collector, read from RIDETHROUGH_EDGE_* environment variables."""

from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EdgeSettings(BaseSettings):
    """Process-level edge settings; the site's buses and protocol come from its config file."""

    model_config = SettingsConfigDict(env_prefix="RIDETHROUGH_EDGE_", extra="ignore")

    backend_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    token: SecretStr = SecretStr("")
    site_config: Path = Path("edge/sites/demo.toml")
    spool_path: Path = Path(".data/edge/spool.sqlite3")
    period_s: float = Field(default=1.0, gt=0, le=60)
    log_level: str = "INFO"
