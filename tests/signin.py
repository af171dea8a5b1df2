"""Signed-in test users, one per role, on a live backend's database."""

import re

import httpx
import psycopg

from app.auth.passwords import hash_password

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = ("viewer", "technician", "operator", "admin")


def ensure_user(dsn: str, role: str, *, sites: list[int] | None = None, name: str = "") -> str:
    """A user with this role (named test-ROLE unless named); returns the username."""
    username = name or f"test-{role}"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO app_user (username, password_hash, role, site_ids) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (username) DO UPDATE SET role = excluded.role, "
            "site_ids = excluded.site_ids",
            (username, hash_password(PASSWORD), role, sites),
        )
    return username


def post_login(
    client: httpx.Client, username: str, password: str = PASSWORD, **fields: str
) -> httpx.Response:
    """Fill in the sign-in form as a browser does: fetch it (its CSRF token), then post it."""
    form = client.get("/login")
    found = LOGIN_CSRF.search(form.text)
    assert found, "no CSRF token on the sign-in form"
    data = {"username": username, "password": password, "csrf_token": found.group(1), **fields}
    return client.post("/login", data=data)


def sign_in(url: str, username: str) -> tuple[dict[str, str], str]:
    """Sign in through the login form; the session cookie and the page's CSRF token."""
    with httpx.Client(base_url=url) as client:
        answer = post_login(client, username)
        assert answer.status_code == 303, answer.text
        page = client.get("/")
        found = CSRF.search(page.text)
        assert found, "no CSRF token on the signed-in page"
        return dict(client.cookies), found.group(1)
