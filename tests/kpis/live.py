"""Helpers for synchronous (hypothesis) tests against the live backend: a fresh committed site,
the rollup job run once, a site's KPI report."""

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.jobs import rollup_once
from tests.factories import DeviceSite, committed_device_site
from tests.server import LiveServer


def new_site(url: str, **overrides: Any) -> DeviceSite:
    """A fresh committed site with its edge device (each example starts from nothing)."""

    async def create() -> DeviceSite:
        engine = create_async_engine(url)
        try:
            return await committed_device_site(engine, **overrides)
        finally:
            await engine.dispose()

    return asyncio.run(create())


def roll_up(url: str) -> None:
    """Bring the minute rollups up to date, as the backend's job does."""

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            await rollup_once(async_sessionmaker(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())


def kpi_report(server: LiveServer, site: DeviceSite, window: str = "7d") -> Any:
    """The site's KPI report over the API, as a viewer reads it."""
    answer = server.client("viewer").get(
        f"/api/v1/sites/{site.code}/kpis", params={"window": window}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()
