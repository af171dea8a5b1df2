"""The FastAPI application factory."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.commands import router as commands_router
from app.api.health import router as api_health_router
from app.api.ingest import router as ingest_router
from app.api.notifications import router as notifications_router
from app.api.probes import router as probes_router
from app.api.routes import router as api_router
from app.api.telemetry import router as telemetry_router
from app.auth.dependencies import NotSignedInError, require
from app.auth.permissions import Permission
from app.config import Settings, get_settings
from app.core.db import create_engine, create_export_engine, create_sessionmaker, libpq_dsn
from app.core.errors import install_error_handlers
from app.core.headers import SecurityHeaders
from app.core.proxies import TrustedProxies
from app.core.streams import DroppedStreamFilter, StreamGate
from app.core.termination import on_termination
from app.ingest.failures import IngestFailures
from app.jobs import Jobs
from app.live.hub import LiveHub
from app.live.stamp import ArrivalStamp
from app.models import ALL_MODELS
from app.openapi import install_openapi
from app.web.admin import router as admin_router
from app.web.alarms import router as alarms_router
from app.web.assets import router as assets_router
from app.web.auth import not_signed_in
from app.web.auth import router as auth_router
from app.web.commands import router as web_commands_router
from app.web.faults import router as faults_router
from app.web.fleet import router as fleet_router
from app.web.health import router as web_health_router
from app.web.kpis import router as kpis_router
from app.web.live import router as live_router
from app.web.notifications import router as web_notifications_router
from app.web.site import router as site_router
from app.web.templating import create_templates

# Routers that check access route by route: probes and login (open), ingest and the edge's
# command endpoints (device tokens), the command API (roles).
OWN_ACCESS_ROUTERS = (probes_router, auth_router, ingest_router, commands_router)
# Everything a person sees needs a signed-in user; what they may change, a role (per route).
SIGNED_IN_ROUTERS = (
    live_router,
    fleet_router,
    site_router,
    assets_router,
    faults_router,
    web_commands_router,
    alarms_router,
    kpis_router,
    api_router,
    telemetry_router,
    admin_router,
    api_health_router,
    web_health_router,
    notifications_router,
    web_notifications_router,
)


GC_THRESHOLDS = (50_000, 10, 10)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: settings validated, engine created, routers and static files mounted."""
    settings = settings or get_settings()
    # Every model must be mapped before the first flush resolves foreign keys between domains.
    assert ALL_MODELS
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("uvicorn.error").addFilter(DroppedStreamFilter())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = Jobs(settings, app.state.sessionmaker)
        jobs.start()
        app.state.live.start()
        stop_hearing = on_termination(app.state.live.drain)
        # Everything loaded so far lives as long as the process: keep it out of the cyclic GC,
        # whose full passes over it otherwise stall a request every few (100+ ms).
        gc.freeze()
        # A request's objects die with it (reference counting); collecting every 700 new
        # objects scanned an ingest batch's rows again and again, about 15 % of its parsing.
        gc.set_threshold(*GC_THRESHOLDS)
        yield
        stop_hearing()
        await app.state.live.stop()
        await jobs.stop()
        await app.state.engine.dispose()
        await app.state.export_engine.dispose()

    app = FastAPI(
        title="Ridethrough",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    app.state.ingest_failures = IngestFailures(settings.ingest_failure_alarm_after)
    app.state.export_engine = create_export_engine(settings)
    app.state.export_sessionmaker = create_sessionmaker(app.state.export_engine)
    app.state.export_gate = StreamGate(
        what="export",
        per_caller=settings.export_max_per_caller,
        total=settings.export_max_concurrent,
        settings_prefix="RIDETHROUGH_EXPORT",
    )
    app.state.templates = create_templates(settings)
    app.state.live = LiveHub(libpq_dsn(settings))
    install_error_handlers(app)
    install_openapi(app)
    app.add_exception_handler(NotSignedInError, not_signed_in)
    for router in OWN_ACCESS_ROUTERS:
        app.include_router(router)
    signed_in = [require(Permission.VIEW)]
    for router in SIGNED_IN_ROUTERS:
        app.include_router(router, dependencies=signed_in)
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    app.add_middleware(ArrivalStamp)
    app.add_middleware(SecurityHeaders)
    # Outermost: everything after it sees the client as the trusted proxies report it.
    app.add_middleware(TrustedProxies, proxies=settings.trusted_proxies)
    return app
