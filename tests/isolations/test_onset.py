"""The onset rule on its own: the fault that caused an isolation, or none that counts."""

from datetime import UTC, datetime, timedelta

from app.core.enums import DisableReason
from app.isolations.onset import Fault, by_bms, commanded

T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
OLD_WARNING = Fault("cell_uv_warning", T - timedelta(minutes=12))  # priority 3
ALARM = Fault("cell_ov_alarm", T - timedelta(seconds=0.4))  # priority 2
LATER_ALARM = Fault("string_over_voltage", T - timedelta(seconds=0.1))  # priority 2


def test_a_command_isolation_starts_at_the_fault_it_answers() -> None:
    found = commanded(
        reason=DisableReason.FAULT, cause=ALARM, requested_at=T - timedelta(1), isolated_at=T
    )
    assert (found.onset_at, found.fault_code) == (ALARM.onset_at, "cell_ov_alarm")


def test_a_command_naming_no_fault_or_not_for_a_fault_has_no_cause() -> None:
    asked = T - timedelta(seconds=3)
    unnamed = commanded(reason=DisableReason.FAULT, cause=None, requested_at=asked, isolated_at=T)
    maintenance = commanded(
        reason=DisableReason.MAINTENANCE, cause=ALARM, requested_at=asked, isolated_at=T
    )
    assert (unnamed.onset_at, unnamed.fault_code) == (asked, None)
    assert (maintenance.reason, maintenance.onset_at, maintenance.fault_code) == (
        DisableReason.MAINTENANCE,
        asked,
        None,
    )


def test_a_fault_stamped_after_the_opening_starts_at_the_opening() -> None:
    late = Fault("cell_ov_alarm", T + timedelta(seconds=1))  # edge and BMS clocks apart
    found = commanded(reason=DisableReason.FAULT, cause=late, requested_at=T, isolated_at=T)
    assert found.onset_at == T


def test_the_bms_acted_on_the_most_severe_fault_not_the_oldest() -> None:
    found = by_bms(disable_reason=1, active=[OLD_WARNING, ALARM], isolated_at=T)
    assert (found.reason, found.onset_at, found.fault_code) == (
        DisableReason.FAULT,
        ALARM.onset_at,
        "cell_ov_alarm",
    )
    # Of equally severe faults, the latest: the earlier one stood without the BMS acting.
    latest = by_bms(disable_reason=1, active=[ALARM, LATER_ALARM, OLD_WARNING], isolated_at=T)
    assert latest.fault_code == "string_over_voltage"


def test_a_bms_opening_for_maintenance_or_without_a_fault_has_no_cause() -> None:
    maintenance = by_bms(disable_reason=2, active=[ALARM], isolated_at=T)
    assert (maintenance.reason, maintenance.onset_at, maintenance.fault_code) == (
        DisableReason.MAINTENANCE,
        T,
        None,
    )
    unknown = by_bms(disable_reason=1, active=[], isolated_at=T)
    assert (unknown.reason, unknown.fault_code) == (DisableReason.FAULT, None)
    unstated = by_bms(disable_reason=None, active=[OLD_WARNING], isolated_at=T)
    assert (unstated.reason, unstated.fault_code) == (DisableReason.FAULT, "cell_uv_warning")
    quiet = by_bms(disable_reason=None, active=[], isolated_at=T)
    assert quiet.reason is DisableReason.OTHER
