"""Imports every domain's models so the metadata is complete (for Alembic and tests)."""

from app.alarms.models import Alarm, AlarmEvent
from app.audit.models import AuditEntry
from app.auth.models import ApiToken, LoginAttempt, User, UserSession
from app.commands.models import Command
from app.core.models import Base
from app.health.models import CellScoreDay, CellWatchDay, HealthDayDone
from app.ingest.models import IngestBatch, IngestRejection
from app.isolations.models import ContactorEvent, Isolation
from app.notifications.models import (
    AlarmNotice,
    Escalation,
    NotificationContact,
    NotificationRule,
    OutboxMessage,
)
from app.sites.models import EdgeDevice, Module, Rack, Site
from app.telemetry.models import (
    ModuleLatest,
    ModuleRollup,
    ModuleSample,
    RackLatest,
    RackRollup,
    RackSample,
    RackSpreadDay,
    RollupDirty,
)

ALL_MODELS = (
    Site,
    EdgeDevice,
    Rack,
    Module,
    ModuleSample,
    ModuleLatest,
    RackSample,
    RackLatest,
    Alarm,
    Isolation,
    Command,
    AuditEntry,
    IngestBatch,
    IngestRejection,
    ModuleRollup,
    RackRollup,
    RollupDirty,
    RackSpreadDay,
    User,
    UserSession,
    LoginAttempt,
    ApiToken,
    AlarmEvent,
    ContactorEvent,
    CellScoreDay,
    CellWatchDay,
    HealthDayDone,
    NotificationContact,
    NotificationRule,
    AlarmNotice,
    OutboxMessage,
    Escalation,
)
metadata = Base.metadata
