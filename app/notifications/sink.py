"""What `make run`'s local SMTP sink caught (a Maildir), for the admin page."""

import mailbox
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from app.notifications.channels import DELIVERY_HEADER


@dataclass(frozen=True, slots=True)
class CaughtMail:
    """One message the sink caught."""

    to: str
    subject: str
    date: str
    delivery_id: str


def caught_mail(directory: Path, limit: int = 20) -> list[CaughtMail]:
    """The newest messages in the sink's Maildir (none when it does not exist yet)."""
    if not (directory / "new").is_dir():
        return []
    box = mailbox.Maildir(directory, create=False)
    found = []
    for message in box.values():
        found.append(
            CaughtMail(
                str(message.get("To", "")),
                str(message.get("Subject", "")),
                str(message.get("Date", "")),
                str(message.get(DELIVERY_HEADER, "")),
            )
        )
    found.sort(key=lambda m: _when(m.date), reverse=True)
    return found[:limit]


def _when(date: str) -> float:
    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return 0.0  # undated: last
