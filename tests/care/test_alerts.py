"""Alert de-duplication, escalation, snoozing with safety floors, personal thresholds, sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from axhub.care import alerts
from axhub.care.intake import ingest_messages
from axhub.care.models import Enrolment, utcnow
from axhub.care.store import CareStore
from axhub.care.sweep import sweep
from axhub.errors import InputError, PolicyDenied

from .conftest import NOON_KST
from .readings import reading

LATER = NOON_KST + timedelta(hours=1)


def _one(store: CareStore, rule: str) -> alerts.AlertView:
    [a] = [a for a in alerts.worklist(store, include_snoozed=True) if a.rule_id == rule]
    return a


def test_repeated_firing_is_one_alert_that_does_not_notify_again(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    first = ingest_messages(store, [reading("glucose", 65)], now=LATER)
    second = ingest_messages(store, [reading("glucose", 66, minutes=5)], now=LATER)
    assert [(c.change, c.notify) for c in first.alerts] == [("created", True)]
    assert [(c.change, c.notify) for c in second.alerts] == [("refired", False)]
    a = _one(store, "glucose.hypo_l1")
    assert a.fire_count == 2 and len(a.reading_ids) == 2


def test_urgent_and_emergency_can_never_be_snoozed(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("glucose", 50), reading("bp", 190, value2=100,
                    symptoms=["visual_loss"])], now=LATER)  # fmt: skip
    for rule in ("glucose.hypo_l2", "bp.emergency"):
        a = _one(store, rule)
        with pytest.raises(PolicyDenied) as e:
            alerts.snooze(store, a.id, minutes=1, by="nurse-kim")
        assert "never be snoozed" in str(e.value)
        assert alerts.get(store, a.id).snoozed_until is None
        assert [ev["event"] for ev in alerts.events(store, a.id)] == ["created", "snooze_refused"]
        assert a.id in [w.id for w in alerts.worklist(store)]


def test_warning_snooze_is_capped_at_12_hours(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("glucose", 65)], now=LATER)
    a = _one(store, "glucose.hypo_l1")
    with pytest.raises(PolicyDenied):
        alerts.snooze(store, a.id, minutes=12 * 60 + 1, by="nurse-kim")
    snoozed = alerts.snooze(store, a.id, minutes=12 * 60, by="nurse-kim", now=LATER)
    assert snoozed.snoozed_until == LATER + timedelta(hours=12)
    with pytest.raises(InputError):
        alerts.snooze(store, a.id, minutes=0, by="nurse-kim")


def test_snoozed_alert_hidden_then_resurfaces_and_escalation_unsnoozes(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("glucose", 65)], now=LATER)
    a = _one(store, "glucose.hypo_l1")
    alerts.snooze(store, a.id, minutes=30, by="nurse-kim", now=LATER)
    assert alerts.worklist(store, now=LATER) == []
    # still firing while snoozed: counted, not surfaced
    quiet = ingest_messages(store, [reading("glucose", 64, minutes=10)], now=LATER)
    assert [(c.change, c.notify) for c in quiet.alerts] == [("refired", False)]
    assert alerts.worklist(store, now=LATER + timedelta(minutes=10)) == []
    # snooze over and it fires again: it comes back
    back = ingest_messages(store, [reading("glucose", 63, minutes=40)],
                           now=LATER + timedelta(minutes=45))  # fmt: skip
    assert [(c.change, c.notify) for c in back.alerts] == [("resurfaced", True)]
    # snoozed again, then a night-time low of the same rule escalates it to urgent at once
    alerts.snooze(store, a.id, minutes=60, by="nurse-kim", now=LATER + timedelta(minutes=45))
    night = ingest_messages(store, [reading("glucose", 62, minutes=-10 * 60)],
                            now=LATER + timedelta(minutes=50))  # fmt: skip
    assert [(c.change, c.severity, c.notify) for c in night.alerts] == [
        ("escalated", "urgent", True)
    ]
    after = alerts.get(store, a.id)
    assert after.snoozed_until is None and after.severity == "urgent"
    with pytest.raises(PolicyDenied):
        alerts.snooze(store, a.id, minutes=5, by="nurse-kim")


def test_snoozing_a_high_never_hides_a_low(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("glucose", 200)], now=LATER)
    alerts.snooze(store, _one(store, "glucose.hyper_l1").id, minutes=600, by="nurse-kim", now=LATER)
    ingest_messages(store, [reading("glucose", 60, minutes=20)], now=LATER)
    assert [a.rule_id for a in alerts.worklist(store, now=LATER)] == ["glucose.hypo_l1"]


def test_acknowledged_alert_reopens_on_escalation_and_resolved_alert_starts_anew(
    store: CareStore,
) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("spo2", 94)], now=LATER)
    a = _one(store, "spo2.low")
    assert alerts.acknowledge(store, a.id, by="nurse-kim").status == "acknowledged"
    ingest_messages(store, [reading("spo2", 91, minutes=5)], now=LATER)
    again = alerts.get(store, a.id)
    assert (again.status, again.severity) == ("open", "urgent")
    alerts.resolve(store, a.id, by="nurse-kim", reason="seen at home")
    ingest_messages(store, [reading("spo2", 94, minutes=30)], now=LATER)
    fresh = _one(store, "spo2.low")
    assert fresh.id != a.id and fresh.status == "open"


def test_worklist_orders_by_severity_and_filters_team(store: CareStore) -> None:
    store.enrol("p-1", care_team="north")
    store.enrol("p-2", care_team="south")
    ingest_messages(store, [reading("glucose", 200), reading("glucose", 50, minutes=1),
                            reading("spo2", 94, person="p-2")], now=LATER)  # fmt: skip
    assert [a.severity for a in alerts.worklist(store)] == ["urgent", "warning", "info"]
    assert {a.person_id for a in alerts.worklist(store, care_team="south")} == {"p-2"}
    assert alerts.worklist(store)[0].title_ko


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("glucose_low", 70, True),
        ("glucose_low", 69, False),  # below the ADA level-1 line: would hide hypoglycaemia
        ("glucose_low", 80, True),
        ("glucose_low", 81, False),
        ("bp_home_sys", 179, True),
        ("bp_home_sys", 180, False),  # at the severe line (ACCAHA2025)
        ("bp_low_sys", 89, False),  # below the NEWS2 red line
        ("spo2_warn", 91, False),
        ("weight_gain_3d", 2.5, False),  # looser than ESC/HFA
        ("weight_gain_3d", 1.0, True),
        ("fever_frail", 38.0, False),
        ("silent_hours", 0.1, False),
    ],
)
def test_personal_thresholds_cannot_leave_the_safety_limits(
    store: CareStore, key: str, value: float, ok: bool
) -> None:
    store.enrol("p-1", care_team="t")
    if ok:
        assert store.set_thresholds("p-1", {key: value}, by="dr-park").thresholds[key] == value
    else:
        with pytest.raises(InputError) as e:
            store.set_thresholds("p-1", {key: value}, by="dr-park")
        assert e.value.field == f"thresholds.{key}" and "safety limits" in str(e.value)
        assert store.enrolment("p-1").personal == {}
        assert store.threshold_history("p-1") == []


def test_threshold_names_are_checked(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    with pytest.raises(InputError) as e:
        store.set_thresholds("p-1", {"glucose_lo": 75}, by="x")
    assert "glucose_low" in str(e.value)
    with pytest.raises(InputError) as e:
        store.set_thresholds("p-1", {"bp_severe_sys": 200}, by="x")
    assert "cannot be personalised" in str(e.value)
    with pytest.raises(InputError):
        store.set_thresholds("p-1", {"glucose_high": 250, "glucose_very_high": 240}, by="x")


def test_device_silent_alert_and_auto_resolve(store: CareStore) -> None:
    store.enrol("p-1", care_team="t", thresholds_={"silent_hours": 12})
    now = utcnow()
    ingest_messages(store, [reading("weight", 70, at=now - timedelta(hours=1))], now=now)
    with store.session() as s:
        assert sweep(s, now + timedelta(hours=12, minutes=-5)) == []
    with store.session() as s:
        [c] = sweep(s, now + timedelta(hours=12, minutes=5))
    assert (c.rule_id, c.severity, c.change) == ("device.silent", "warning", "created")
    later = now + timedelta(hours=13)
    ingest_messages(store, [reading("weight", 70, at=later)], now=later)
    with store.session() as s:
        changes = sweep(s, later + timedelta(minutes=1))
    assert [(x.rule_id, x.change) for x in changes] == [("device.silent", "resolved")]
    assert alerts.worklist(store) == []


def test_adherence_missed_one_day_info_two_days_warning(store: CareStore) -> None:
    store.enrol("p-1", care_team="t", schedule={"bp": 2})
    with store.session() as s:  # enrolled "now": no complete day yet, nothing to say
        assert [c.rule_id for c in sweep(s, utcnow())] == []
    with store.session() as s:
        s.execute(update(Enrolment).values(enrolled_at=NOON_KST - timedelta(days=5)))
    day = NOON_KST  # 2026-11-25 12:00 KST; the last complete local day is the 24th
    ingest_messages(store, [reading("bp", 120, value2=80, minutes=-24 * 60 + m)
                            for m in (0, 30)], now=day)  # fmt: skip
    with store.session() as s:
        got = [(c.rule_id, c.severity) for c in sweep(s, day) if c.rule_id != "device.silent"]
    assert got == []
    # the 25th: one BP only
    ingest_messages(store, [reading("bp", 120, value2=80, minutes=60)], now=day)
    with store.session() as s:
        got = [(c.rule_id, c.severity) for c in sweep(s, day + timedelta(days=1))
               if c.rule_id != "device.silent"]  # fmt: skip
    assert got == [("adherence.missed", "info")]
    with store.session() as s:  # the 26th: none at all -> two days running
        got = [(c.rule_id, c.severity, c.change) for c in sweep(s, day + timedelta(days=2))
               if c.rule_id != "device.silent"]  # fmt: skip
    assert got == [("adherence.missed", "warning", "escalated")]


def test_two_writers_racing_on_one_key_fold_into_one_alert(store: CareStore) -> None:
    """Intake over HTTP and MQTT at once: the second writer finds the first one's alert
    (unique open dedup key) and refires it instead of failing or doubling it."""
    import threading
    import time

    from axhub.care.frames import Firing
    from axhub.care.monitoring import apply_firings

    store.enrol("p-1", care_team="t")
    t0 = int(NOON_KST.timestamp())
    firing = [Firing("p-1", "glucose.hypo_l1", "warning", f"r{i}", t0 + i, {}) for i in (1, 2)]
    out: dict[str, object] = {}

    def second() -> None:
        with store.session() as s:
            out["b"] = [(c.change, c.reading_ids) for c in
                        apply_firings(s, [firing[1]], {"p-1": "t"}, LATER)]  # fmt: skip

    with store.session() as s:
        first = apply_firings(s, [firing[0]], {"p-1": "t"}, LATER)
        th = threading.Thread(target=second)
        th.start()
        time.sleep(0.5)  # the second writer now waits on the first one's uncommitted row
    th.join(timeout=30)
    assert [c.change for c in first] == ["created"]
    assert out["b"] == [("refired", ["r2"])]
    [a] = alerts.worklist(store)
    assert a.fire_count == 2 and a.reading_ids == ("r1", "r2")
