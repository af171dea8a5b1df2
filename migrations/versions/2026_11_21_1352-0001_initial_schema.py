"""Initial schema: registry, telemetry hypertables, alarms, isolations, commands, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:52:53.116057+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Chunk sizes keep one chunk of a 2,000-module site well inside memory (about 6 h at 1 Hz).
HYPERTABLES = {"module_sample": "6 hours", "rack_sample": "1 day"}


def create_hypertables() -> None:
    """Turn the sample tables into hypertables; the primary key already indexes (asset, ts)."""
    for table, interval in HYPERTABLES.items():
        op.execute(
            f"SELECT create_hypertable('{table}', by_range('ts', INTERVAL '{interval}'), "
            "create_default_indexes => false)"
        )


def upgrade() -> None:
    """Apply this revision."""
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default="UTC", nullable=False),
        sa.Column("chemistry", sa.Text(), server_default="LFP", nullable=False),
        sa.Column("nameplate_power_kw", sa.Double(), nullable=False),
        sa.Column("nameplate_energy_kwh", sa.Double(), nullable=False),
        sa.Column(
            "settings", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name=op.f("ck_site_code_slug")),
        sa.CheckConstraint("nameplate_energy_kwh > 0", name=op.f("ck_site_energy_positive")),
        sa.CheckConstraint("nameplate_power_kw > 0", name=op.f("ck_site_power_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("code", name=op.f("uq_site_code")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("remote_addr", postgresql.INET(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_audit_log_site_id_site"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", [sa.literal_column("at DESC")], unique=False)
    op.create_table(
        "edge_device",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("software_version", sa.Text(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_edge_device_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edge_device")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_edge_device_site_id_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_edge_device_token_hash")),
    )
    op.create_index(op.f("ix_edge_device_site_id"), "edge_device", ["site_id"], unique=False)
    op.create_table(
        "rack",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("max_charge_a", sa.Double(), nullable=False),
        sa.Column("max_discharge_a", sa.Double(), nullable=False),
        sa.Column("capacity_ah", sa.Double(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("index >= 1", name=op.f("ck_rack_index_positive")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_rack_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rack")),
        sa.UniqueConstraint("site_id", "index", name=op.f("uq_rack_site_id_index")),
    )
    op.create_table(
        "module",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=True),
        sa.Column("cell_count", sa.SmallInteger(), nullable=False),
        sa.Column("temp_count", sa.SmallInteger(), nullable=False),
        sa.Column("chemistry", sa.Text(), server_default="LFP", nullable=False),
        sa.Column("capacity_ah", sa.Double(), nullable=False),
        sa.Column("firmware", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("cell_count BETWEEN 1 AND 64", name=op.f("ck_module_cell_count_range")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_module_position_positive")),
        sa.CheckConstraint("temp_count BETWEEN 0 AND 16", name=op.f("ck_module_temp_count_range")),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_module_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module")),
        sa.UniqueConstraint("rack_id", "position", name=op.f("uq_module_rack_id_position")),
        sa.UniqueConstraint("serial", name=op.f("uq_module_serial")),
    )
    op.create_table(
        "rack_latest",
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voltage_v", sa.REAL(), nullable=True),
        sa.Column("current_a", sa.REAL(), nullable=True),
        sa.Column("power_kw", sa.REAL(), nullable=True),
        sa.Column("soc_pct", sa.REAL(), nullable=True),
        sa.Column("soh_pct", sa.REAL(), nullable=True),
        sa.Column("contactor_closed", sa.Boolean(), nullable=True),
        sa.Column("n_mod_connected", sa.SmallInteger(), nullable=True),
        sa.Column("n_mod_bypassed", sa.SmallInteger(), nullable=True),
        sa.Column("insulation_kohm", sa.REAL(), nullable=True),
        sa.Column("charge_limit_a", sa.REAL(), nullable=True),
        sa.Column("discharge_limit_a", sa.REAL(), nullable=True),
        sa.Column("energy_charged_kwh", sa.Double(), nullable=True),
        sa.Column("energy_discharged_kwh", sa.Double(), nullable=True),
        sa.Column("cell_v_min", sa.REAL(), nullable=True),
        sa.Column("cell_v_max", sa.REAL(), nullable=True),
        sa.Column("status_bits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fault_bits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("disable_reason", sa.SmallInteger(), nullable=True),
        sa.Column("quality", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_rack_latest_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("rack_id", name=op.f("pk_rack_latest")),
    )
    op.create_table(
        "rack_sample",
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voltage_v", sa.REAL(), nullable=True),
        sa.Column("current_a", sa.REAL(), nullable=True),
        sa.Column("power_kw", sa.REAL(), nullable=True),
        sa.Column("soc_pct", sa.REAL(), nullable=True),
        sa.Column("soh_pct", sa.REAL(), nullable=True),
        sa.Column("contactor_closed", sa.Boolean(), nullable=True),
        sa.Column("n_mod_connected", sa.SmallInteger(), nullable=True),
        sa.Column("n_mod_bypassed", sa.SmallInteger(), nullable=True),
        sa.Column("insulation_kohm", sa.REAL(), nullable=True),
        sa.Column("charge_limit_a", sa.REAL(), nullable=True),
        sa.Column("discharge_limit_a", sa.REAL(), nullable=True),
        sa.Column("energy_charged_kwh", sa.Double(), nullable=True),
        sa.Column("energy_discharged_kwh", sa.Double(), nullable=True),
        sa.Column("cell_v_min", sa.REAL(), nullable=True),
        sa.Column("cell_v_max", sa.REAL(), nullable=True),
        sa.Column("status_bits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fault_bits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("disable_reason", sa.SmallInteger(), nullable=True),
        sa.Column("quality", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_rack_sample_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("rack_id", "ts", name=op.f("pk_rack_sample")),
    )
    op.create_table(
        "alarm",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=True),
        sa.Column("module_id", sa.Integer(), nullable=True),
        sa.Column("cell_index", sa.SmallInteger(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.Text(), server_default="unacked", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.REAL(), nullable=True),
        sa.Column("threshold", sa.REAL(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_by", sa.Text(), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shelved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shelved_by", sa.Text(), nullable=True),
        sa.Column("shelve_reason", sa.Text(), nullable=True),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('normal', 'unacked', 'acked', 'rtn_unacked', 'shelved', 'suppressed', "
            "'out_of_service')",
            name=op.f("ck_alarm_state_valid"),
        ),
        sa.CheckConstraint("occurrences >= 1", name=op.f("ck_alarm_occurrences_positive")),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name=op.f("ck_alarm_priority_range")),
        sa.ForeignKeyConstraint(
            ["module_id"], ["module.id"], name=op.f("fk_alarm_module_id_module"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_alarm_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_alarm_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm")),
    )
    op.create_index(
        "ix_alarm_site_id_raised_at",
        "alarm",
        ["site_id", sa.literal_column("raised_at DESC")],
        unique=False,
    )
    op.create_index(
        "uq_alarm_open_source",
        "alarm",
        [
            "site_id",
            sa.literal_column("coalesce(rack_id, 0)"),
            sa.literal_column("coalesce(module_id, 0)"),
            sa.literal_column("coalesce(cell_index, -1)"),
            "code",
        ],
        unique=True,
        postgresql_where=sa.text("state <> 'normal'"),
    )
    op.create_table(
        "command",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=True),
        sa.Column("module_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "result", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('derate', 'isolate_string', 'return_string', 'isolate_module', "
            "'return_module', 'reset_alarms', 'set_balancing')",
            name=op.f("ck_command_kind_valid"),
        ),
        sa.CheckConstraint(
            "origin IN ('bms', 'edge_policy', 'operator')", name=op.f("ck_command_origin_valid")
        ),
        sa.CheckConstraint(
            "reason IN ('fault', 'maintenance', 'external', 'other')",
            name=op.f("ck_command_reason_valid"),
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'acked', 'verified', 'failed', 'expired', 'cancelled')",
            name=op.f("ck_command_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_command_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_command_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_command_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command")),
    )
    op.create_index(
        "ix_command_pending",
        "command",
        ["site_id", "id"],
        unique=False,
        postgresql_where=sa.text("state IN ('queued', 'sent', 'acked')"),
    )
    op.create_index(
        "ix_command_site_id_requested_at",
        "command",
        ["site_id", sa.literal_column("requested_at DESC")],
        unique=False,
    )
    op.create_table(
        "module_latest",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("soc_pct", sa.REAL(), nullable=True),
        sa.Column("soh_pct", sa.REAL(), nullable=True),
        sa.Column("current_a", sa.REAL(), nullable=True),
        sa.Column("voltage_v", sa.REAL(), nullable=True),
        sa.Column("cell_v", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column("cell_v_min", sa.REAL(), nullable=False),
        sa.Column("cell_v_max", sa.REAL(), nullable=False),
        sa.Column("cell_v_avg", sa.REAL(), nullable=False),
        sa.Column("cell_v_min_idx", sa.SmallInteger(), nullable=False),
        sa.Column("cell_v_max_idx", sa.SmallInteger(), nullable=False),
        sa.Column("temp_c", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column("temp_c_max", sa.REAL(), nullable=True),
        sa.Column("balancing", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status_bits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fault_bits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quality", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_latest_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module_id", name=op.f("pk_module_latest")),
    )
    op.create_table(
        "module_sample",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("soc_pct", sa.REAL(), nullable=True),
        sa.Column("soh_pct", sa.REAL(), nullable=True),
        sa.Column("current_a", sa.REAL(), nullable=True),
        sa.Column("voltage_v", sa.REAL(), nullable=True),
        sa.Column("cell_v", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column("cell_v_min", sa.REAL(), nullable=False),
        sa.Column("cell_v_max", sa.REAL(), nullable=False),
        sa.Column("cell_v_avg", sa.REAL(), nullable=False),
        sa.Column("cell_v_min_idx", sa.SmallInteger(), nullable=False),
        sa.Column("cell_v_max_idx", sa.SmallInteger(), nullable=False),
        sa.Column("temp_c", postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column("temp_c_max", sa.REAL(), nullable=True),
        sa.Column("balancing", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status_bits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fault_bits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quality", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_module_sample_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("module_id", "ts", name=op.f("pk_module_sample")),
    )
    op.create_table(
        "isolation",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("isolated_by", sa.Text(), nullable=False),
        sa.Column("fault_code", sa.Text(), nullable=True),
        sa.Column("command_id", sa.BigInteger(), nullable=True),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("isolated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "isolated_by IN ('bms', 'edge_policy', 'operator')",
            name=op.f("ck_isolation_isolated_by_valid"),
        ),
        sa.CheckConstraint(
            "reason IN ('fault', 'maintenance', 'external', 'other')",
            name=op.f("ck_isolation_reason_valid"),
        ),
        sa.CheckConstraint(
            "isolated_at IS NULL OR isolated_at >= onset_at",
            name=op.f("ck_isolation_isolated_after_onset"),
        ),
        sa.CheckConstraint(
            "returned_at IS NULL OR returned_at >= onset_at",
            name=op.f("ck_isolation_returned_after_onset"),
        ),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["command.id"],
            name=op.f("fk_isolation_command_id_command"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
            name=op.f("fk_isolation_module_id_module"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rack_id"], ["rack.id"], name=op.f("fk_isolation_rack_id_rack"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_isolation_site_id_site"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isolation")),
    )
    op.create_index(
        "ix_isolation_site_id_onset_at",
        "isolation",
        ["site_id", sa.literal_column("onset_at DESC")],
        unique=False,
    )
    create_hypertables()


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_isolation_site_id_onset_at", table_name="isolation")
    op.drop_table("isolation")
    op.drop_table("module_sample")
    op.drop_table("module_latest")
    op.drop_index("ix_command_site_id_requested_at", table_name="command")
    op.drop_index(
        "ix_command_pending",
        table_name="command",
        postgresql_where=sa.text("state IN ('queued', 'sent', 'acked')"),
    )
    op.drop_table("command")
    op.drop_index(
        "uq_alarm_open_source", table_name="alarm", postgresql_where=sa.text("state <> 'normal'")
    )
    op.drop_index("ix_alarm_site_id_raised_at", table_name="alarm")
    op.drop_table("alarm")
    op.drop_table("rack_sample")
    op.drop_table("rack_latest")
    op.drop_table("module")
    op.drop_table("rack")
    op.drop_index(op.f("ix_edge_device_site_id"), table_name="edge_device")
    op.drop_table("edge_device")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("site")
