"""Signing in under attack, over real HTTP: back-off instead of a locked account, addresses only
from trusted proxies, parallel guesses counted, a CSRF token on the form, sessions ended by a
password reset."""

import asyncio
import time
from itertools import count

import httpx
import psycopg

from app.auth.throttle import ACCOUNT, ACCOUNT_FROM_ADDRESS, ADDRESS
from tests.db import psycopg_dsn, query_rows
from tests.server import LiveServer
from tests.signin import LOGIN_CSRF, PASSWORD, ensure_user, post_login

ADDRESSES = count(1)


def new_address() -> str:
    """A client address no other test uses (198.18.0.0/15 is for benchmarks and tests)."""
    n = next(ADDRESSES)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def via_proxy(server: LiveServer, address: str) -> httpx.Client:
    """A client the proxy says is at `address`."""
    return httpx.Client(base_url=server.url, headers={"X-Forwarded-For": address})


def attempt(server: LiveServer, username: str, address: str, password: str) -> httpx.Response:
    """One sign-in from an address (a fresh browser: its own form and cookie)."""
    with via_proxy(server, address) as client:
        return post_login(client, username, password)


def fail(server: LiveServer, names: list[str], addresses: list[str]) -> None:
    """A wrong password for each (name, address) pair in turn, waiting out any back-off (the
    waits are short at these counts): every one of them counts as a failure."""
    for name, address in zip(names, addresses, strict=True):
        answer = attempt(server, name, address, "guess")
        while answer.status_code == 429:
            time.sleep(int(answer.headers["Retry-After"]))
            answer = attempt(server, name, address, "guess")
        assert answer.status_code == 401, answer.text


def test_wrong_passwords_back_off_one_address_but_never_lock_the_account(
    proxied: LiveServer,
) -> None:
    user = ensure_user(psycopg_dsn(proxied.database_url), "operator", name="backoff-operator")
    attacker, console = new_address(), new_address()
    guesses = ACCOUNT_FROM_ADDRESS.free + 2  # the next attempt then waits 4 s
    fail(proxied, [user] * guesses, [attacker] * guesses)
    refused = attempt(proxied, user, attacker, PASSWORD)  # even the right one must wait
    assert refused.status_code == 429
    assert "too many failed sign-ins for this account from your address" in refused.text
    wait_s = int(refused.headers["Retry-After"])
    assert 1 <= wait_s <= 4
    # The operator at another console is not held up by someone else's guesses.
    assert attempt(proxied, user, console, PASSWORD).status_code == 303
    time.sleep(wait_s)  # and waiting is all it takes from the first address too
    assert attempt(proxied, user, attacker, PASSWORD).status_code == 303


def test_a_distributed_attack_spares_the_addresses_the_user_signs_in_from(
    proxied: LiveServer,
) -> None:
    user = ensure_user(psycopg_dsn(proxied.database_url), "operator", name="besieged-operator")
    control_room = new_address()
    assert attempt(proxied, user, control_room, PASSWORD).status_code == 303
    guesses = ACCOUNT.free + 2  # one from each of many addresses
    fail(proxied, [user] * guesses, [new_address() for _ in range(guesses)])
    stranger = attempt(proxied, user, new_address(), PASSWORD)
    assert stranger.status_code == 429
    assert "too many failed sign-ins for this account;" in stranger.text
    assert int(stranger.headers["Retry-After"]) <= ACCOUNT.cap.total_seconds()
    assert attempt(proxied, user, control_room, PASSWORD).status_code == 303


def test_password_spraying_from_one_address_is_slowed_down(proxied: LiveServer) -> None:
    dsn = psycopg_dsn(proxied.database_url)
    sprayer = new_address()
    names = [ensure_user(dsn, "viewer", name=f"sprayed-{n}") for n in range(ADDRESS.free + 3)]
    fail(proxied, names[:-1], [sprayer] * (len(names) - 1))
    refused = attempt(proxied, names[-1], sprayer, "Winter2026!")
    assert refused.status_code == 429
    assert "your address" in refused.text
    assert attempt(proxied, names[0], new_address(), PASSWORD).status_code == 303


def test_rotating_x_forwarded_for_does_not_escape_the_limit_without_a_trusted_proxy(
    server: LiveServer,
) -> None:
    user = ensure_user(psycopg_dsn(server.database_url), "viewer", name="rotated-viewer")
    guesses = ACCOUNT_FROM_ADDRESS.free + 2
    fail(server, [user] * guesses, [new_address() for _ in range(guesses)])
    refused = attempt(server, user, new_address(), PASSWORD)
    assert refused.status_code == 429
    assert "for this account from your address" in refused.text
    stored = query_rows(
        psycopg_dsn(server.database_url),
        "SELECT DISTINCT host(remote_addr) FROM login_attempt WHERE username = %s",
        user,
    )
    assert stored == [("127.0.0.1",)]  # the connection's address, not the header's


def test_a_trusted_proxy_names_the_client(proxied: LiveServer) -> None:
    user = ensure_user(psycopg_dsn(proxied.database_url), "viewer", name="proxied-viewer")
    client_address = new_address()
    # A client may send its own X-Forwarded-For; the proxy appends the address it saw.
    forwarded = f"203.0.113.9, {client_address}"
    with via_proxy(proxied, forwarded) as client:
        assert post_login(client, user).status_code == 303
    stored = query_rows(
        psycopg_dsn(proxied.database_url),
        "SELECT host(remote_addr) FROM audit_log WHERE actor = %s",
        user,
    )
    assert stored == [(client_address,)]


async def test_parallel_guesses_are_counted_before_any_is_answered(proxied: LiveServer) -> None:
    user = ensure_user(psycopg_dsn(proxied.database_url), "viewer", name="raced-viewer")
    address = new_address()
    async with httpx.AsyncClient(
        base_url=proxied.url, headers={"X-Forwarded-For": address}
    ) as client:
        form = await client.get("/login")
        found = LOGIN_CSRF.search(form.text)
        assert found is not None
        data = {"username": user, "password": "guess", "csrf_token": found.group(1)}
        answers = await asyncio.gather(*(client.post("/login", data=data) for _ in range(15)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(401) == ACCOUNT_FROM_ADDRESS.free, statuses
    assert statuses.count(429) == 15 - ACCOUNT_FROM_ADDRESS.free, statuses


def test_the_sign_in_form_needs_its_csrf_token(server: LiveServer) -> None:
    user = ensure_user(psycopg_dsn(server.database_url), "viewer", name="csrf-viewer")
    with httpx.Client(base_url=server.url) as victim:
        # Posted from another site: no form token (and no cookie of ours, SameSite=Lax).
        forged = victim.post("/login", data={"username": user, "password": PASSWORD})
        assert forged.status_code == 403
        assert "the sign-in form expired" in forged.text
        assert LOGIN_CSRF.search(forged.text)  # a fresh form, ready to use
        with httpx.Client(base_url=server.url) as attacker:
            token = LOGIN_CSRF.search(attacker.get("/login").text)
        assert token is not None
        # The attacker's own form token does not go with the victim's cookie.
        victim.get("/login")
        stolen = victim.post(
            "/login", data={"username": user, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert stolen.status_code == 403
        assert post_login(victim, user).status_code == 303


def test_a_password_reset_ends_the_users_sessions(server: LiveServer) -> None:
    user = ensure_user(psycopg_dsn(server.database_url), "operator", name="reset-operator")
    with httpx.Client(base_url=server.url) as browser:
        assert post_login(browser, user).status_code == 303
        assert browser.get("/").status_code == 200
        reset = server.client("admin").post(
            "/admin/users", data={"username": user, "role": "operator"}
        )
        assert reset.status_code == 200
        assert browser.get("/", follow_redirects=False).status_code == 303  # to the login form
    with psycopg.connect(psycopg_dsn(server.database_url)) as conn:
        sessions = conn.execute(
            "SELECT count(*) FROM user_session s JOIN app_user u "
            "ON u.id = s.user_id WHERE u.username = %s",
            (user,),
        ).fetchone()
    assert sessions == (0,)


async def healthz_p50(client: httpx.AsyncClient, samples: int = 25) -> float:
    """The median time of /healthz, asked one after another."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)
    return sorted(times)[len(times) // 2]


async def test_a_burst_of_sign_ins_does_not_stall_other_requests(server: LiveServer) -> None:
    # One user each: a user's attempts in flight count as failures until their password proves
    # right, so one browser per user is what a real burst looks like.
    users = [
        ensure_user(psycopg_dsn(server.database_url), "viewer", name=f"burst-viewer-{n}")
        for n in range(8)
    ]
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as probe:
        baseline = await healthz_p50(probe)
        stop = asyncio.Event()

        async def keep_signing_in(user: str) -> int:
            signed = 0
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as browser:
                while not stop.is_set():
                    form = LOGIN_CSRF.search((await browser.get("/login")).text)
                    assert form is not None
                    data = {"username": user, "password": PASSWORD, "csrf_token": form.group(1)}
                    assert (await browser.post("/login", data=data)).status_code == 303
                    signed += 1
            return signed

        burst = [asyncio.create_task(keep_signing_in(user)) for user in users]
        await asyncio.sleep(1.0)  # the burst is under way: argon2 work queued and running
        during = await healthz_p50(probe)
        stop.set()
        signed = sum(await asyncio.gather(*burst))
    assert signed >= 8
    # Argon2 on the event loop made every request wait for the hashes ahead of it (about
    # 100 ms each); in worker threads the loop answers at once. Generous for a shared machine.
    assert during < max(0.05, 10 * baseline), (baseline, during)
