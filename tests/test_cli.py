"""The backend command line against the real test database."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.config import PROJECT_ROOT
from app.core.security import hash_token
from tests.db import psycopg_dsn


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m app ARGS` on the test database."""
    env = {**os.environ, "RIDETHROUGH_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-site fleet configuration file."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.toml"
    path.write_text(
        '[[site]]\ncode = "cli-site"\nname = "CLI Site"\nnameplate_power_kw = 50\n'
        "nameplate_energy_kwh = 100\nracks = 2\nmodules_per_rack = 4\ncells_per_module = 16\n"
        "temps_per_module = 2\nmodule_capacity_ah = 100\nrack_max_charge_a = 50\n"
        "rack_max_discharge_a = 50\n"
    )
    return path


def test_load_sites_is_idempotent(test_database_url: str, fleet_file: Path) -> None:
    first = run_cli(test_database_url, "load-sites", str(fleet_file))
    second = run_cli(test_database_url, "load-sites", str(fleet_file))
    assert first.returncode == 0, first.stderr
    assert "2 strings, 8 new modules" in first.stdout
    assert "2 strings, 0 new modules" in second.stdout


def test_load_sites_names_the_bad_field(test_database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[site]]\ncode = "Bad Code!"\nname = "x"\n')
    result = run_cli(test_database_url, "load-sites", str(bad))
    assert result.returncode == 2
    assert "site.0.code = 'Bad Code!'" in result.stderr
    assert "site.0.racks" in result.stderr


def test_edge_device_token_is_printed_once_and_stored_hashed(
    test_database_url: str, fleet_file: Path
) -> None:
    run_cli(test_database_url, "load-sites", str(fleet_file))
    result = run_cli(test_database_url, "create-edge-device", "--site", "cli-site", "--name", "gw")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("rte_")
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        stored = conn.execute("SELECT token_hash FROM edge_device WHERE name = 'gw'").fetchall()
    assert stored == [(hash_token(token),)]

    again = run_cli(test_database_url, "create-edge-device", "--site", "cli-site", "--name", "gw")
    assert again.returncode == 2
    assert "already has an edge device named 'gw'" in again.stderr

    rotated = run_cli(
        test_database_url, "create-edge-device", "--site", "cli-site", "--name", "gw", "--rotate"
    )
    new_token = rotated.stdout.strip()
    assert rotated.returncode == 0, rotated.stderr
    assert new_token != token
    with psycopg.connect(psycopg_dsn(test_database_url)) as conn:
        stored = conn.execute("SELECT token_hash FROM edge_device WHERE name = 'gw'").fetchall()
    assert stored == [(hash_token(new_token),)]


def test_edge_device_for_unknown_site_is_refused(test_database_url: str) -> None:
    result = run_cli(test_database_url, "create-edge-device", "--site", "nowhere", "--name", "x")
    assert result.returncode == 2
    assert "no site with code 'nowhere'" in result.stderr
