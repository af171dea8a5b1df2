"""The site and the person behind a command request, as the command service needs them."""

from fastapi import Request

from app.auth.service import SignedIn
from app.commands import service
from app.core.enums import Actor
from app.core.security import client_host
from app.fleet.overview import SiteOverview


def site_ref(site: SiteOverview) -> service.SiteRef:
    """What the command service needs to know about a site."""
    return service.SiteRef(site.id, site.code, site.nameplate_power_kw, site.strings)


def operator(request: Request, user: SignedIn) -> service.Requester:
    """The signed-in person behind a browser or API request, and where it came from."""
    return service.Requester(user.username, Actor.OPERATOR.value, client_host(request))
