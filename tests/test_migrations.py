"""Migrations: upgrade, downgrade and upgrade again on a real TimescaleDB; models match them."""

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine
from sqlalchemy.dialects import postgresql

from app.models import metadata
from tests.db import alembic_config, drop_database, psycopg_dsn, recreate_database

DB = "ridethrough_migrations_test"
HYPERTABLES = {
    "module_sample",
    "rack_sample",
    "module_sample_1m",
    "rack_sample_1m",
    "system_sample",
}
TABLES = {
    "site",
    "edge_device",
    "rack",
    "module",
    "module_sample",
    "rack_sample",
    "module_latest",
    "rack_latest",
    "alarm",
    "isolation",
    "command",
    "audit_log",
    "ingest_batch",
    "ingest_rejection",
    "rollup_dirty",
    "module_sample_1m",
    "rack_sample_1m",
    "rack_spread_1d",
    "alarm_event",
    "contactor_event",
    "notification_contact",
    "notification_rule",
    "alarm_notice",
    "notification_outbox",
    "notification_escalation",
    "system_sample",
    "system_latest",
    "cell_score_1d",
    "cell_watch_1d",
    "health_day_done",
}


@pytest.fixture(scope="module")
def empty_db() -> Iterator[str]:
    """A database with only the timescaledb extension."""
    yield recreate_database(DB)
    drop_database(DB)


def hypertables(url: str) -> set[str]:
    """Hypertables as TimescaleDB itself lists them."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        return {name for (name,) in rows}


def tables(url: str) -> set[str]:
    """Ordinary and partitioned tables in the public schema."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    config = alembic_config(empty_db)

    command.upgrade(config, "head")
    assert tables(empty_db) >= TABLES
    assert hypertables(empty_db) == HYPERTABLES

    command.downgrade(config, "base")
    assert tables(empty_db) == {"alembic_version"}
    assert hypertables(empty_db) == set()

    command.upgrade(config, "head")
    assert hypertables(empty_db) == HYPERTABLES


def test_models_match_migrations(empty_db: str) -> None:
    command.upgrade(alembic_config(empty_db), "head")
    engine = create_engine(empty_db)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_check_constraints_carry_the_names_the_models_give_them(empty_db: str) -> None:
    """A later migration drops a check by its name: a doubled prefix would not be found."""
    command.upgrade(alembic_config(empty_db), "head")
    with psycopg.connect(psycopg_dsn(empty_db)) as conn:
        rows = conn.execute("SELECT conname FROM pg_constraint WHERE contype = 'c'")
        in_database = {name for (name,) in rows}
    preparer = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]
    named = {
        preparer.format_constraint(constraint)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name
    }
    assert named
    assert named - in_database == set()


def test_timescaledb_extension_is_present(empty_db: str) -> None:
    with psycopg.connect(psycopg_dsn(empty_db)) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        version = row.fetchone()
    assert version is not None, "the test database lacks the timescaledb extension"
    major, minor = (int(part) for part in version[0].split(".")[:2])
    assert (major, minor) >= (2, 13)


def test_latest_state_tables_leave_room_for_in_place_updates(empty_db: str) -> None:
    command.upgrade(alembic_config(empty_db), "head")
    with psycopg.connect(psycopg_dsn(empty_db)) as conn:
        rows = conn.execute(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname IN ('module_latest', 'rack_latest') ORDER BY relname"
        ).fetchall()
    assert rows == [("module_latest", ["fillfactor=50"]), ("rack_latest", ["fillfactor=50"])]


SEED_0008 = """
INSERT INTO site (id, code, name, nameplate_power_kw, nameplate_energy_kwh)
VALUES (1, 'm', 'M', 100, 200);
INSERT INTO rack (id, site_id, index, name, max_charge_a, max_discharge_a, capacity_ah)
VALUES (1, 1, 1, 'String 1', 140, 140, 280);
INSERT INTO module (id, rack_id, position, cell_count, temp_count, capacity_ah)
VALUES (1, 1, 2, 16, 4, 280);
-- Two open rows of one module fault that differ only by cell (the old key allowed it), and
-- one of a fault that cleared.
INSERT INTO alarm (id, site_id, rack_id, module_id, cell_index, code, priority, state, message,
                   value, raised_at, last_raised_at, occurrences, cleared_at)
VALUES (1, 1, 1, 1, 7, 'cell_ov_warning', 3, 'unacked', 'cell 8', 3.24,
        '2026-11-21 10:00:01Z', '2026-11-21 10:00:04Z', 2, NULL),
       (2, 1, 1, 1, 6, 'cell_ov_warning', 3, 'unacked', 'cell 7', 3.6,
        '2026-11-21 10:00:02Z', '2026-11-21 10:00:06Z', 3, NULL),
       (3, 1, 1, 1, 0, 'cell_uv_warning', 3, 'rtn_unacked', 'cell 1', 2.89,
        '2026-11-21 10:00:03Z', '2026-11-21 10:00:03Z', 1, '2026-11-21 10:00:09Z'),
       (4, 1, NULL, NULL, NULL, 'edge_clock_skew', 3, 'unacked', 'skew', 90,
        '2026-11-21 10:00:00Z', '2026-11-21 10:00:00Z', 1, NULL);
INSERT INTO isolation (site_id, rack_id, reason, isolated_by, onset_at, isolated_at, returned_at)
VALUES (1, 1, 'fault', 'bms', '2026-11-21 10:00:01Z', '2026-11-21 10:00:02Z',
        '2026-11-21 10:01:00Z');
"""


def test_event_history_is_filled_from_the_rows_and_undone_by_downgrade(empty_db: str) -> None:
    recreate_database(DB)
    config = alembic_config(empty_db)
    command.upgrade(config, "0008")
    dsn = psycopg_dsn(empty_db)
    with psycopg.connect(dsn) as conn:
        conn.execute(SEED_0008)

    command.upgrade(config, "0009")
    with psycopg.connect(dsn) as conn:
        alarms = conn.execute(
            "SELECT id, occurrences, extract(second FROM last_raised_at) FROM alarm ORDER BY id"
        ).fetchall()
        alarm_events = conn.execute(
            "SELECT code, extract(second FROM ts), raised, cell_index FROM alarm_event "
            "ORDER BY code, ts, raised"
        ).fetchall()
        feedback = conn.execute(
            "SELECT extract(minute FROM ts) * 60 + extract(second FROM ts), "
            "opened FROM contactor_event ORDER BY ts"
        ).fetchall()
    assert alarms == [(1, 5, 6), (3, 1, 3), (4, 1, 0)]  # row 2 folded into row 1
    assert alarm_events == [
        ("cell_ov_warning", 1, True, 7),
        ("cell_ov_warning", 6, True, None),
        ("cell_uv_warning", 3, True, 0),
        ("cell_uv_warning", 9, False, None),
    ]
    assert feedback == [(2, True), (60, False)]

    command.downgrade(config, "0008")
    assert not {"alarm_event", "contactor_event"} & tables(empty_db)
    with psycopg.connect(dsn) as conn:
        key = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_alarm_open_source'"
        ).fetchone()
    assert key is not None
    assert "cell_index" in key[0]


def test_energy_balance_columns_are_filled_by_the_job_and_undone_by_downgrade(
    empty_db: str,
) -> None:
    recreate_database(DB)
    config = alembic_config(empty_db)
    command.upgrade(config, "0009")
    dsn = psycopg_dsn(empty_db)
    with psycopg.connect(dsn) as conn:
        conn.execute(SEED_0008.split("-- Two open rows", maxsplit=1)[0])
        conn.execute(
            "INSERT INTO rack_sample (rack_id, ts, soc_pct) VALUES "
            "(1, '2026-11-21 10:00:01Z', 50), (1, '2026-11-21 10:01:30Z', 51)"
        )

    command.upgrade(config, "0010")
    with psycopg.connect(dsn) as conn:
        dirty = conn.execute(
            "SELECT source, extract(minute FROM bucket) FROM rollup_dirty ORDER BY bucket"
        ).fetchall()
    assert dirty == [("rack", 0), ("rack", 1)]  # recomputed from the raw samples by the job

    command.downgrade(config, "0009")
    with psycopg.connect(dsn) as conn:
        columns = {
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'rack_sample_1m'"
            )
        }
    assert "soc_pct_last" not in columns
    assert "energy_charged_kwh_max" in columns


SEED_0010 = """
INSERT INTO command (id, site_id, rack_id, kind, reason, origin, requested_by, requested_at,
                     state, sent_at, result)
VALUES (1, 1, 1, 'isolate_string', 'fault', 'edge_policy', 'edge policy',
        '2026-11-21 10:12:00.51Z', 'verified', '2026-11-21 10:12:00.51Z',
        '{"trigger": {"code": "cell_ov_alarm", "onset_at": "2026-11-21T10:12:00.5Z"}}'),
       (2, 1, 1, 'isolate_string', 'fault', 'operator', 'op', '2026-11-21 11:00:00Z',
        'verified', '2026-11-21 11:00:01Z', '{}');
-- Both onsets taken from an under-voltage warning twelve minutes older than the first.
INSERT INTO isolation (site_id, rack_id, reason, isolated_by, fault_code, command_id, onset_at,
                       isolated_at)
VALUES (1, 1, 'fault', 'edge_policy', 'cell_uv_warning', 1, '2026-11-21 10:00:00Z',
        '2026-11-21 10:12:00.91Z'),
       (1, 1, 'fault', 'operator', 'cell_uv_warning', 2, '2026-11-21 10:00:00Z',
        '2026-11-21 11:00:02Z');
"""


def test_commands_get_their_fault_and_isolations_its_onset_and_downgrade_drops_them(
    empty_db: str,
) -> None:
    recreate_database(DB)
    config = alembic_config(empty_db)
    command.upgrade(config, "0010")
    dsn = psycopg_dsn(empty_db)
    with psycopg.connect(dsn) as conn:
        conn.execute(SEED_0008.split("-- Two open rows", maxsplit=1)[0])
        conn.execute(SEED_0010)

    command.upgrade(config, "0011")
    with psycopg.connect(dsn) as conn:
        commands = conn.execute(
            "SELECT id, fault_code, extract(second FROM fault_onset_at) FROM command ORDER BY id"
        ).fetchall()
        isolations = conn.execute(
            "SELECT command_id, fault_code, to_char(onset_at, 'HH24:MI:SS.MS') FROM isolation "
            "ORDER BY command_id"
        ).fetchall()
    assert commands == [(1, "cell_ov_alarm", 0.5), (2, None, None)]
    # The policy's from its trigger; the operator's named no fault: from its request, uncounted.
    assert isolations == [(1, "cell_ov_alarm", "10:12:00.500"), (2, None, "11:00:00.000")]

    command.downgrade(config, "0010")
    with psycopg.connect(dsn) as conn:
        columns = {
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'command'"
            )
        }
    assert not {"alarm_id", "fault_code", "fault_onset_at"} & columns
