"""What a site-limited admin may do on /admin, against an admin of every site: a matrix of every
admin action over real HTTP, each on objects inside, outside and across the admin's sites.

An admin grants only what they hold: a limited admin creates users and tokens for their own
sites only (none chosen, "every site", is 403; another site reads as unknown, 422), resets only
users wholly within their sites (403 otherwise), and does not see, disable or revoke anything
beyond them (404, as for a site they cannot see). A refused action changes nothing.
"""

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.security import hash_token
from tests.db import psycopg_dsn
from tests.factories import committed_device_site
from tests.server import LiveServer
from tests.signin import ensure_user, sign_in


@dataclass(frozen=True)
class World:
    """Two sites, `mine` (the limited admin's) and `theirs`, and a way to add objects to them."""

    dsn: str
    mine: str
    mine_id: int
    theirs: str
    theirs_id: int

    def ids(self, *codes: str) -> list[int] | None:
        """Site ids of codes (none: every site, as the database stores it)."""
        by_code = {self.mine: self.mine_id, self.theirs: self.theirs_id}
        return [by_code[c] for c in codes] or None

    def user(self, name: str, role: str, *codes: str) -> int:
        """A user on these sites; their id."""
        ensure_user(self.dsn, role, sites=self.ids(*codes), name=name)
        return int(self._one("SELECT id FROM app_user WHERE username = %s", name))

    def token(self, name: str, *codes: str) -> int:
        """An active write token on these sites; its id."""
        return int(
            self._one(
                "INSERT INTO api_token (name, token_hash, prefix, access, site_ids, created_by,"
                " expires_at) VALUES (%s, %s, 'rta_x', 'write', %s, 'test',"
                " now() + interval '1 day') RETURNING id",
                name,
                hash_token(secrets.token_hex()),
                self.ids(*codes),
            )
        )

    def device(self, name: str, code: str) -> int:
        """An active edge device of one site; its id."""
        site_ids = self.ids(code)
        assert site_ids is not None
        return int(
            self._one(
                "INSERT INTO edge_device (site_id, name, token_hash)"
                " VALUES (%s, %s, %s) RETURNING id",
                site_ids[0],
                name,
                hash_token(secrets.token_hex()),
            )
        )

    def _one(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def fingerprint(self) -> str:
        """A digest of everything an admin action can change: users, sessions, tokens, devices."""
        return str(
            self._one("""
            SELECT md5(concat_ws('|',
              (SELECT string_agg(concat_ws(',', id, password_hash, role, site_ids, disabled_at),
                                 ';' ORDER BY id) FROM app_user),
              (SELECT count(*) FROM user_session),
              (SELECT string_agg(concat_ws(',', id, site_ids, revoked_at), ';' ORDER BY id)
                 FROM api_token),
              (SELECT string_agg(concat_ws(',', id, token_hash, revoked_at), ';' ORDER BY id)
                 FROM edge_device)))""")
        )


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, server: LiveServer) -> World:
    """The two sites, committed where the live server sees them."""
    mine, theirs = await committed_device_site(engine), await committed_device_site(engine)
    dsn = psycopg_dsn(server.database_url)
    return World(dsn, mine.code, mine.site_id, theirs.code, theirs.site_id)


@pytest.fixture(scope="module")
def admins(server: LiveServer, world: World) -> Iterator[dict[str, httpx.Client]]:
    """Signed-in clients: 'limited' (an admin of `mine` only) and 'every' (of every site)."""
    ensure_user(world.dsn, "admin", sites=[world.mine_id], name="limited-admin")
    ensure_user(world.dsn, "admin", name="every-site-admin")
    clients = {}
    for kind, name in (("limited", "limited-admin"), ("every", "every-site-admin")):
        cookies, csrf = sign_in(server.url, name)
        clients[kind] = httpx.Client(
            base_url=server.url, cookies=cookies, headers={"X-CSRF-Token": csrf}, timeout=30
        )
    yield clients
    for client in clients.values():
        client.close()


Request = tuple[str, dict[str, Any]]  # path, form


def reset(world: World, name: str, role: str, *codes: str) -> Request:
    """A user of these sites exists; reset them to a user of `mine`."""
    world.user(name, role, *codes)
    return "/admin/users", {"username": name, "role": role, "sites": [world.mine]}


def rotate(world: World, name: str, code: str) -> Request:
    """A device of this site exists; ask for a new token for it."""
    world.device(name, code)
    return "/admin/devices", {"site": code, "name": name, "rotate": "true"}


NUMBERS = itertools.count(1)
# case -> (the request, built on fresh objects named n; status for the limited admin; for the
# admin of every site). Allowed actions answer 200 with the admin page.
CASES: dict[str, tuple[Callable[[World, str], Request], int, int]] = {
    "create a user of my site": (
        lambda w, n: ("/admin/users", {"username": n, "role": "operator", "sites": [w.mine]}),
        200,
        200,
    ),
    "create an admin of my site": (
        lambda w, n: ("/admin/users", {"username": n, "role": "admin", "sites": [w.mine]}),
        200,
        200,
    ),
    "create a user of every site": (
        lambda w, n: ("/admin/users", {"username": n, "role": "viewer"}),
        403,
        200,
    ),
    "create a user of another site": (
        lambda w, n: ("/admin/users", {"username": n, "role": "viewer", "sites": [w.theirs]}),
        422,
        200,
    ),
    "create a user of my site and another": (
        lambda w, n: (
            "/admin/users",
            {"username": n, "role": "viewer", "sites": [w.mine, w.theirs]},
        ),
        422,
        200,
    ),
    "reset a user of my site": (lambda w, n: reset(w, n, "viewer", w.mine), 200, 200),
    "reset a user of every site": (lambda w, n: reset(w, n, "operator"), 403, 200),
    "reset a user of my site and another": (
        lambda w, n: reset(w, n, "viewer", w.mine, w.theirs),
        403,
        200,
    ),
    "reset a user of another site": (lambda w, n: reset(w, n, "viewer", w.theirs), 403, 200),
    "disable a user of my site": (
        lambda w, n: (f"/admin/users/{w.user(n, 'viewer', w.mine)}/disable", {}),
        200,
        200,
    ),
    "disable a user of every site": (
        lambda w, n: (f"/admin/users/{w.user(n, 'operator')}/disable", {}),
        404,
        200,
    ),
    "disable a user of another site": (
        lambda w, n: (f"/admin/users/{w.user(n, 'viewer', w.theirs)}/disable", {}),
        404,
        200,
    ),
    "disable a user of my site and another": (
        lambda w, n: (f"/admin/users/{w.user(n, 'viewer', w.mine, w.theirs)}/disable", {}),
        404,
        200,
    ),
    "create a token for my site": (
        lambda w, n: ("/admin/tokens", {"name": n, "access": "write", "sites": [w.mine]}),
        200,
        200,
    ),
    "create a token for every site": (
        lambda w, n: ("/admin/tokens", {"name": n, "access": "write"}),
        403,
        200,
    ),
    "create a token for another site": (
        lambda w, n: ("/admin/tokens", {"name": n, "access": "read", "sites": [w.theirs]}),
        422,
        200,
    ),
    "revoke a token of my site": (
        lambda w, n: (f"/admin/tokens/{w.token(n, w.mine)}/revoke", {}),
        200,
        200,
    ),
    "revoke a token of every site": (
        lambda w, n: (f"/admin/tokens/{w.token(n)}/revoke", {}),
        404,
        200,
    ),
    "revoke a token of another site": (
        lambda w, n: (f"/admin/tokens/{w.token(n, w.theirs)}/revoke", {}),
        404,
        200,
    ),
    "register a device at my site": (
        lambda w, n: ("/admin/devices", {"site": w.mine, "name": n}),
        200,
        200,
    ),
    "register a device at another site": (
        lambda w, n: ("/admin/devices", {"site": w.theirs, "name": n}),
        422,
        200,
    ),
    "rotate a device of another site": (lambda w, n: rotate(w, n, w.theirs), 422, 200),
    "revoke a device of my site": (
        lambda w, n: (f"/admin/devices/{w.device(n, w.mine)}/revoke", {}),
        200,
        200,
    ),
    "revoke a device of another site": (
        lambda w, n: (f"/admin/devices/{w.device(n, w.theirs)}/revoke", {}),
        404,
        200,
    ),
}


@pytest.mark.parametrize("admin", ["limited", "every"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_admin_action_within_and_beyond_the_admins_sites(
    world: World, admins: dict[str, httpx.Client], case: str, admin: str
) -> None:
    build, limited, every = CASES[case]
    path, form = build(world, f"scope-{next(NUMBERS)}")
    before = world.fingerprint()
    answer = admins[admin].post(path, data=form)
    expected = limited if admin == "limited" else every
    assert answer.status_code == expected, (case, admin, answer.text[-400:])
    if expected == 200:
        assert world.fingerprint() != before, (case, admin)
    else:
        assert world.fingerprint() == before, (case, admin)  # refused: nothing changed
        assert 'class="panel problem"' in answer.text  # and the page says why
        assert 'class="secret"' not in answer.text


def test_a_limited_admin_sees_only_their_sites_and_what_is_within_them(
    world: World, admins: dict[str, httpx.Client]
) -> None:
    inside = {
        "user": f"in-{next(NUMBERS)}",
        "token": f"in-{next(NUMBERS)}",
        "device": f"in-{next(NUMBERS)}",
    }
    outside = {
        "user": f"out-{next(NUMBERS)}",
        "token": f"out-{next(NUMBERS)}",
        "device": f"out-{next(NUMBERS)}",
    }
    world.user(inside["user"], "viewer", world.mine)
    world.token(inside["token"], world.mine)
    world.device(inside["device"], world.mine)
    world.user(outside["user"], "viewer", world.mine, world.theirs)
    world.token(outside["token"])
    world.device(outside["device"], world.theirs)
    limited = admins["limited"].get("/admin").text
    every = admins["every"].get("/admin").text
    for name in inside.values():
        assert name in limited
        assert name in every
    for name in outside.values():
        assert name not in limited
        assert name in every
    assert f'value="{world.mine}"' in limited
    assert f'value="{world.theirs}"' not in limited  # neither to choose, nor to register at
    assert f'value="{world.theirs}"' in every
    assert "every-site-admin" not in limited  # an admin of every site is beyond them


def test_a_token_made_by_a_limited_admin_reads_only_their_site(
    server: LiveServer, world: World, admins: dict[str, httpx.Client]
) -> None:
    made = admins["limited"].post(
        "/admin/tokens",
        data={"name": f"feed-{next(NUMBERS)}", "access": "read", "sites": [world.mine]},
    )
    secret = made.text.split('<code class="secret">')[1].split("<")[0]
    bearer = {"Authorization": f"Bearer {secret}"}
    sites = httpx.get(f"{server.url}/api/v1/sites", headers=bearer).json()["items"]
    assert [s["code"] for s in sites] == [world.mine]
    beyond = httpx.get(f"{server.url}/api/v1/sites/{world.theirs}", headers=bearer)
    assert beyond.status_code == 404
