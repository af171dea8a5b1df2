"""The edge's local policy: decisions by tier, and actions on a real virtual bus with the link
to the backend down, recorded as commands once it is back."""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge.can.events import Event, EventKind
from edge.can.protocol import load_protocol
from edge.control.bus_commands import Order
from edge.control.policy import Policy, Tier, check_codes
from edge.control.policy_runner import PolicyRunner
from edge.model import Target
from edge.sim.faults import Fault, FaultKind
from edge.site import PolicyConfig, SiteFileError, load_site_file
from tests.edge.conftest import Rig
from tests.edge_process import REFERENCE_MAPPING, REFERENCE_POLICY, write_site_file

CONFIG = PolicyConfig(
    warning=["cell_ov_warning", "insulation_warning"],
    alarm=["cell_ov_alarm", "insulation_alarm"],
    safety=["string_over_voltage"],
    derate_pct=50,
    trip_when_strings_in_alarm=2,
)
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: the backend link is down


def raised(
    code: str, string: int = 1, module: int = 2, kind: EventKind = EventKind.FAULT_RAISED
) -> Event:
    """A fault event as the assembler emits it."""
    target = Target.MODULE if module else Target.STRING
    return Event(100.0, kind, target, string, module, code)


def test_each_tier_takes_its_action() -> None:
    policy = Policy(CONFIG, can_bypass=True)
    (derate,) = policy.on_events([raised("cell_ov_warning")])
    assert (derate.kind, derate.string, derate.pct) == ("derate", 1, 50)
    assert derate.trigger.tier is Tier.WARNING
    assert derate.trigger.onset == 100.0
    assert derate.describe() == "warning cell_ov_warning: derate to 50 % string 1"
    # Warning and alarm bits rising in the same frame: one action, the stronger one.
    (isolate,) = policy.on_events([raised("cell_ov_warning"), raised("cell_ov_alarm")])
    assert (isolate.kind, isolate.string, isolate.module) == ("isolate_string", 1, None)
    assert (isolate.trigger.string, isolate.trigger.module) == (1, 2)
    assert isolate.describe() == "alarm cell_ov_alarm: isolate string 1"
    (trip,) = policy.on_events([raised("string_over_voltage", string=2, module=0)])
    assert (trip.kind, trip.string, trip.trigger.tier) == ("trip", None, Tier.SAFETY)
    assert policy.on_events([raised("balancing_fault")]) == []  # not in any tier


def test_module_isolation_when_configured_and_the_protocol_can_bypass() -> None:
    config = CONFIG.model_copy(update={"isolate": "module"})
    (action,) = Policy(config, can_bypass=True).on_events([raised("cell_ov_alarm")])
    assert (action.kind, action.string, action.module) == ("isolate_module", 1, 2)
    (fallback,) = Policy(config, can_bypass=False).on_events([raised("cell_ov_alarm")])
    assert fallback.kind == "isolate_string"
    (string_level,) = Policy(config, can_bypass=True).on_events(
        [raised("insulation_alarm", module=0)]
    )
    assert string_level.kind == "isolate_string"


def test_alarms_on_enough_strings_at_once_trip_the_site() -> None:
    policy = Policy(CONFIG, can_bypass=True)
    assert policy.on_events([raised("cell_ov_alarm", string=1)])[0].kind == "isolate_string"
    policy.on_events([raised("cell_ov_alarm", string=1, kind=EventKind.FAULT_CLEARED)])
    # String 1's alarm cleared: one string in alarm again, not two.
    assert policy.on_events([raised("cell_ov_alarm", string=2)])[0].kind == "isolate_string"
    assert policy.on_events([raised("insulation_alarm", string=3, module=0)])[0].kind == "trip"


def test_policy_codes_must_be_the_protocols_and_in_one_tier() -> None:
    names = load_protocol(REFERENCE_MAPPING).fault_names
    check_codes(CONFIG, names)
    typo = CONFIG.model_copy(update={"alarm": ["cell_ov_alrm"]})
    with pytest.raises(ValueError, match=r"policy.alarm: 'cell_ov_alrm' is not a fault code"):
        check_codes(typo, names)
    with pytest.raises(ValueError, match="'cell_ov_alarm' is in both warning and alarm"):
        PolicyConfig(warning=["cell_ov_alarm"], alarm=["cell_ov_alarm"])


def start_policy(rig: Rig, base_url: str) -> Iterator[PolicyRunner]:
    """A policy runner listening to the rig's collector, as the edge wires one."""
    client = httpx.Client(
        base_url=base_url, timeout=2, headers={"Authorization": f"Bearer {rig.site.token}"}
    )
    runner = PolicyRunner(
        Policy(CONFIG, can_bypass=True),
        rig.commander(),
        rig.journal(),
        client,
        edge_id="edge-under-test",
        strings=2,
        string_rated_a=140,
    )
    rig.collector.assembler.listener = runner.observe
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield runner
    runner.stop()
    thread.join(timeout=5)
    client.close()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll until `check` holds or the time is up."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def reading(rig: Rig, string: int, name: str) -> float:
    """The collector's latest reading of one string."""
    return rig.commander().string_readings().get(string, {}).get(name, float("nan"))


def cell_ov(size: float, string: int = 2) -> Fault:
    """An over-voltage on one cell of module 2."""
    return Fault(FaultKind.CELL_OV, string=string, module=2, cell=3, size=size)


@pytest.fixture
def offline_policy(rig: Rig) -> Iterator[PolicyRunner]:
    """The policy with the backend link down."""
    yield from start_policy(rig, UNREACHABLE)


def test_an_alarm_isolates_its_string_with_the_link_down_then_is_recorded(
    rig: Rig, offline_policy: PolicyRunner
) -> None:
    assert wait_for(lambda: reading(rig, 1, "current_a") > 1 and reading(rig, 2, "current_a") > 1)
    rig.simulator.inject(cell_ov(0.40))  # above the 3.65 V alarm, below the BMS's own 3.75 V
    assert wait_for(lambda: reading(rig, 2, "contactor_closed") == 0.0)
    assert wait_for(lambda: bool(offline_policy.journal.unreported_actions()))
    assert [m.arbitration_id & 0xFF00 for m in rig.commands_seen] == [0x0200]  # one, string 2
    time.sleep(0.5)  # string 1 takes over the site's discharge
    assert reading(rig, 1, "contactor_closed") == 1.0
    assert reading(rig, 1, "current_a") > 1
    (entry,) = offline_policy.journal.unreported_actions()  # kept until the backend has it
    assert (entry.action["kind"], entry.action["string"], entry.outcome) == (
        "isolate_string",
        2,
        "acked",
    )
    assert entry.action["trigger"]["code"] == "cell_ov_alarm"
    assert entry.evidence["2.0"]["contactor_closed"] == 0.0

    auth = {"Authorization": f"Bearer {rig.site.token}"}
    offline_policy.client = httpx.Client(base_url=rig.server.url, headers=auth)
    offline_policy.report_pending()  # the link is back
    assert offline_policy.journal.unreported_actions() == []
    listed = rig.server.http.get(f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands").json()[
        "items"
    ]
    (command,) = listed
    assert (command["kind"], command["string"], command["origin"]) == (
        "isolate_string",
        2,
        "edge_policy",
    )
    assert command["state"] == "verified"  # from the BMS status read after the ACK
    assert command["note"] == "edge policy, alarm tier: cell_ov_alarm at string 2 module 2"
    again = offline_policy.client.post(
        "/api/v1/edge/policy-actions", json=offline_policy._body(entry)
    )
    assert again.status_code == 200
    assert again.json()["id"] == command["id"]
    listed = rig.server.http.get(f"{rig.server.url}/api/v1/sites/{rig.site.code}/commands").json()[
        "items"
    ]
    assert len(listed) == 1  # a repeated report is recorded once


def test_a_warning_derates_its_string(rig: Rig, offline_policy: PolicyRunner) -> None:
    assert wait_for(lambda: reading(rig, 2, "charge_limit_a") == 140.0)
    rig.simulator.inject(cell_ov(0.25))  # above the 3.50 V warning only
    assert wait_for(lambda: reading(rig, 2, "charge_limit_a") <= 70.5)
    assert reading(rig, 2, "discharge_limit_a") <= 70.5
    assert reading(rig, 2, "contactor_closed") == 1.0  # derated, not isolated
    assert reading(rig, 1, "charge_limit_a") == 140.0
    # The journal entry is finished once the edge has read the BMS status after the ACK.
    assert wait_for(lambda: bool(offline_policy.journal.unreported_actions()))
    (entry,) = offline_policy.journal.unreported_actions()
    assert (entry.action["kind"], entry.action["pct"]) == ("derate", 50)


def test_the_edge_interlock_vetoes_its_own_policy(rig: Rig, offline_policy: PolicyRunner) -> None:
    assert wait_for(lambda: reading(rig, 1, "contactor_closed") == 1.0)
    opened = rig.commander().carry_out(Order(1, "isolate_string", ((1, 0),), "maintenance"))
    assert opened.outcome == "acked"
    rig.simulator.inject(cell_ov(0.40))  # string 2 is now the last one connected
    assert wait_for(lambda: bool(offline_policy.journal.unreported_actions()))
    (entry,) = offline_policy.journal.unreported_actions()
    assert entry.outcome == "refused"
    assert entry.detail == "edge interlock: this is the last connected string"
    assert len(rig.commands_seen) == 1  # only the operator's isolation of string 1
    assert reading(rig, 2, "contactor_closed") == 1.0


def test_site_files_carry_the_policy_and_demo_faults(tmp_path: Path) -> None:
    good = write_site_file(
        tmp_path,
        code="policy-site",
        mapping=REFERENCE_MAPPING,
        simulator='faults = ["cell_ov:string=2,module=1,at=90"]',
        policy=REFERENCE_POLICY,
    )
    site = load_site_file(good)
    assert site.policy is not None
    assert site.policy.alarm[0] == "cell_ov_alarm"
    assert site.simulator.faults == ["cell_ov:string=2,module=1,at=90"]
    bad = write_site_file(
        tmp_path,
        code="bad-site",
        mapping=REFERENCE_MAPPING,
        simulator='faults = ["cell_ov:strng=2"]',
    )
    with pytest.raises(SiteFileError, match=r"simulator.faults .*'strng=2'"):
        load_site_file(bad)
