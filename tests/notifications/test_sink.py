"""`make run`'s local SMTP sink (aiosmtpd's Maildir handler) and what the admin page reads."""

from pathlib import Path
from uuid import uuid4

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from app.notifications.channels import Outgoing, SmtpServer, send_email
from app.notifications.sink import caught_mail
from tests.server import free_port


async def test_mail_sent_to_the_sink_is_listed_for_the_admin_page(tmp_path: Path) -> None:
    assert caught_mail(tmp_path / "mail") == []  # no sink yet: nothing, not an error
    port = free_port()
    controller = Controller(Mailbox(tmp_path / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", port, "ridethrough@localhost", 10.0)
        ids = [uuid4(), uuid4()]
        for number, delivery_id in enumerate(ids):
            await send_email(
                server,
                Outgoing(
                    delivery_id,
                    "email",
                    "op@example.com",
                    f"message {number}",
                    "text",
                    "<p>html</p>",
                    {},
                    None,
                ),
            )
    finally:
        controller.stop()
    caught = caught_mail(tmp_path / "mail")
    assert {m.subject for m in caught} == {"message 0", "message 1"}
    assert {m.delivery_id for m in caught} == {str(i) for i in ids}
    assert all(m.to == "op@example.com" for m in caught)
