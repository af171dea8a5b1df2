"""The live hub's memory of recent changes: what a (re)connecting stream gets replayed."""

import pytest

from app.live import hub as live
from app.live.hub import KINDS, LiveHub, Subscription


def listening_hub(heard_since_ms: int) -> LiveHub:
    """A hub that has been listening since `heard_since_ms` (no database needed)."""
    hub = LiveHub("postgresql://unused")
    hub.heard_since_ms = heard_since_ms
    return hub


def test_a_stream_gets_the_changes_since_its_page_was_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "now_ms", lambda: 0)
    hub = listening_hub(1_000)
    for at_ms, site, kind in (
        (2_000, 1, "alarms"),
        (10_000, 1, "commands"),
        (10_500, 2, "telemetry"),
    ):
        monkeypatch.setattr(live, "now_ms", lambda at=at_ms: at)
        hub.dispatch(f'{{"site_id": {site}, "kind": "{kind}"}}')
    page_of_site_1 = Subscription([1])
    hub.replay(page_of_site_1, since_ms=9_000)
    # 10 000 ms is after the page; 2 000 ms is more than the slack before it; site 2 is not shown.
    assert page_of_site_1.take() == {"commands"}
    assert page_of_site_1.last_ms == 10_000

    slack = Subscription(None)
    hub.replay(slack, since_ms=3_500)  # 2 000 ms is within the slack of a page asked at 3 500
    assert slack.take() == {"alarms", "commands", "telemetry"}

    nothing_new = Subscription(None)
    hub.replay(nothing_new, since_ms=20_000)
    assert nothing_new.take() == set()


def test_a_span_the_hub_did_not_hear_refreshes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "now_ms", lambda: 50_000)
    hub = listening_hub(40_000)
    before_listening = Subscription([7])
    hub.replay(before_listening, since_ms=39_000)
    assert before_listening.take() == set(KINDS)

    not_listening = LiveHub("postgresql://unused")  # not connected yet
    page = Subscription([7])
    not_listening.replay(page, since_ms=49_000)
    assert page.take() == set(KINDS)


def test_a_full_memory_refreshes_what_it_forgot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RECENT_CHANGES", 3)
    hub = listening_hub(0)
    hub.recent = type(hub.recent)(maxlen=3)
    for at_ms in (10_000, 11_000, 12_000, 13_000):
        monkeypatch.setattr(live, "now_ms", lambda at=at_ms: at)
        hub.dispatch('{"site_id": 1, "kind": "telemetry"}')
    forgot = Subscription(None)
    hub.replay(forgot, since_ms=10_500)  # 10 000 ms has been pushed out of memory
    assert forgot.take() == set(KINDS)
    remembered = Subscription(None)
    hub.replay(remembered, since_ms=14_500)
    assert remembered.take() == {"telemetry"}
