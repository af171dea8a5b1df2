"""The channels: e-mail over SMTP and signed JSON webhooks. Each send raises DeliveryError."""

import asyncio
import hashlib
import hmac
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from uuid import UUID

import httpx
import orjson

DELIVERY_HEADER = "X-Ridethrough-Delivery"
SIGNATURE_HEADER = "X-Ridethrough-Signature"
# A receiver that is busy or restarting answers these; anything else 4xx will not change.
RETRYABLE_4XX = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """A message was not delivered; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way, as the outbox holds it."""

    delivery_id: UUID
    channel: str
    target: str
    subject: str
    body_text: str
    body_html: str
    payload: dict[str, Any]
    webhook_secret: str | None


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where e-mail goes, and as whom."""

    host: str
    port: int
    sender: str
    timeout_s: float


def build_email(message: Outgoing, sender: str) -> EmailMessage:
    """Plain text with an HTML alternative; the Message-ID follows the delivery id, so a
    retried send is recognisably the same message."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.target
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=str(message.delivery_id), domain="ridethrough")
    email[DELIVERY_HEADER] = str(message.delivery_id)
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    return email


def _smtp_send(server: SmtpServer, email: EmailMessage) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=server.timeout_s) as smtp:
        smtp.send_message(email)


async def send_email(server: SmtpServer, message: Outgoing) -> None:
    """Hand the message to the SMTP server (in a thread: smtplib blocks)."""
    try:
        await asyncio.to_thread(_smtp_send, server, build_email(message, server.sender))
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"the SMTP server refused {message.target}: {exc}", permanent=True
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {server.host}:{server.port}: {exc}") from exc


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 of the exact body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def send_webhook(message: Outgoing, timeout_s: float) -> None:
    """POST the JSON payload, signed with the recipient's key, with the delivery id."""
    if not message.webhook_secret:
        raise DeliveryError(
            "the webhook has no signing key: save the contact again", permanent=True
        )
    body = orjson.dumps(message.payload)
    headers = {
        "Content-Type": "application/json",
        DELIVERY_HEADER: str(message.delivery_id),
        SIGNATURE_HEADER: sign(message.webhook_secret, body),
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.post(message.target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {message.target}: {exc!r}") from exc
    if answer.is_success:
        return
    permanent = answer.status_code < 500 and answer.status_code not in RETRYABLE_4XX
    raise DeliveryError(
        f"webhook {message.target} answered {answer.status_code}", permanent=permanent
    )
