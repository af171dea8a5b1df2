"""Jinja2 environment shared by every HTML route."""

from datetime import datetime

from fastapi.templating import Jinja2Templates

from app.alarms.catalogue import describe
from app.alarms.lifecycle import SHELVE_CHOICES
from app.alarms.queries import STATE_LABELS as ALARM_STATES
from app.auth.dependencies import command_reasons, csrf_field, user_can
from app.config import Settings
from app.fleet.overview import STATE_LABELS
from app.telemetry.sign import CONVENTION

PRIORITY_LABELS = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}


def format_age(ts: datetime | None, now: datetime) -> str:
    """How long ago a timestamp was, for data-age columns ('4 s', '3 min', '2 h', 'never')."""
    if ts is None:
        return "never"
    seconds = max(0, int((now - ts).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def create_templates(settings: Settings) -> Jinja2Templates:
    """Templates from the project's templates/ folder with the app's filters."""
    templates = Jinja2Templates(directory=settings.templates_dir)
    templates.env.globals["app_name"] = "Ridethrough"
    templates.env.globals["csrf_field"] = csrf_field
    templates.env.globals["can"] = user_can
    templates.env.globals["command_reasons"] = command_reasons
    templates.env.globals["format_age"] = format_age
    templates.env.globals["priority_labels"] = PRIORITY_LABELS
    templates.env.globals["state_labels"] = STATE_LABELS
    templates.env.globals["alarm_states"] = ALARM_STATES
    templates.env.globals["shelve_choices"] = SHELVE_CHOICES
    templates.env.globals["describe"] = describe
    templates.env.globals["sign_convention"] = CONVENTION  # for every current and power shown
    # Shared macros as a global, so a block rendered alone (an htmx fragment) can use them too.
    templates.env.globals["ui"] = templates.env.get_template("macros.html").module
    return templates
