"""Chat and paging services through Apprise: one URL names the service and its credentials
(slack://…, ntfy://…, tgram://…, json://host/path for any HTTP endpoint).

The URL holds secrets, so it is shown back only masked: the scheme and Apprise's privacy view
of the host (passwords and tokens as ****), never the path or the query.
"""

import asyncio

import apprise

from app.notifications.channels import DeliveryError, Outgoing

EXAMPLES = "e.g. json://host:port/path, ntfy://ntfy.sh/topic, slack://TokenA/TokenB/TokenC"


def apprise_problem(url: str) -> str | None:
    """Why Apprise cannot use the URL, or None when it can."""
    if apprise.Apprise.instantiate(url) is None:
        return f"Apprise does not understand this URL ({EXAMPLES})"
    return None


def masked(url: str) -> str:
    """The URL as it may be shown: scheme and masked host, the rest as '…'."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return "(an Apprise URL that no longer loads)"
    private = str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
    scheme, _, rest = private.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}" + ("/…" if path.strip("/") else "")


async def send_apprise(message: Outgoing, timeout_s: float) -> None:
    """Send the subject and text through Apprise; a refusal is retried like a webhook's."""
    notifier = apprise.Apprise()
    if not notifier.add(message.target):
        raise DeliveryError(
            f"Apprise no longer understands {masked(message.target)}", permanent=True
        )
    body = f"{message.body_text}\n\nDelivery id: {message.delivery_id}"
    try:
        sent = await asyncio.wait_for(
            notifier.async_notify(title=message.subject, body=body), timeout=timeout_s
        )
    except TimeoutError as exc:
        raise DeliveryError(
            f"Apprise {masked(message.target)}: no answer in {timeout_s:g} s"
        ) from exc
    if not sent:
        raise DeliveryError(f"Apprise {masked(message.target)} did not take the message")
