"""Device intake over HTTP (FHIR Observation / reading JSON): de-duplication, late and
out-of-order readings, units, implausible values and quarantine - on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import orjson
from sqlalchemy import func, select

from axhub.care import alerts
from axhub.care.intake import ingest_messages, ingest_observation, quarantine_count
from axhub.care.models import QuarantinedMessage, Reading
from axhub.care.store import CareStore

from .conftest import NOON_KST
from .readings import bp_observation, observation, reading


def _readings(store: CareStore) -> list[Reading]:
    with store.session() as s:
        return list(s.scalars(select(Reading).order_by(Reading.effective_s, Reading.reading_id)))


def test_fhir_bp_panel_becomes_bp_and_heart_rate(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    res = ingest_observation(store, bp_observation(128, 82, hr=71))
    assert (res.stored, res.quarantined) == (2, 0)
    rows = {r.kind: r for r in _readings(store)}
    assert (rows["bp"].norm_value, rows["bp"].norm_value2, rows["bp"].norm_unit) == (
        128,
        82,
        "mmHg",
    )
    assert rows["heart_rate"].reading_id == "urn:axhub:device:test|bp-1#hr"


def test_fhir_glucose_in_mmol_is_normalised_and_alerts(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    res = ingest_observation(store, observation("14743-9", 2.9, "mmol/L"))
    r = _readings(store)[0]
    assert (r.value, r.unit, r.norm_value, r.norm_unit) == (2.9, "mmol/L", 52.0, "mg/dL")
    assert [(a.rule_id, a.severity) for a in res.alerts] == [("glucose.hypo_l2", "urgent")]


def test_fhir_weight_in_pounds(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_observation(store, observation("29463-7", 154, "[lb_av]"))
    assert _readings(store)[0].norm_value == 69.853


def test_redelivery_is_a_duplicate_not_a_second_reading(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    msg = orjson.dumps(reading("glucose", 50, rid="dev-1/1"))
    first = ingest_messages(store, [msg])
    again = ingest_messages(store, [msg, msg])
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates, again.quarantined) == (0, 2, 0)
    assert len(_readings(store)) == 1
    [alert] = alerts.worklist(store)
    assert alert.fire_count == 1 and again.alerts == []


def test_reused_reading_id_with_other_content_is_quarantined(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    ingest_messages(store, [reading("glucose", 120, rid="dev-1/1")])
    res = ingest_messages(store, [reading("glucose", 45, rid="dev-1/1")])
    assert (res.stored, res.quarantined) == (0, 1)
    assert _readings(store)[0].norm_value == 120
    with store.session() as s:
        q = s.scalars(select(QuarantinedMessage)).one()
    assert q.reason == "reading id reused with different content" and q.reading_id == "dev-1/1"
    assert '"value":45' in q.raw


def test_bad_messages_go_to_quarantine_with_reason_and_field(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    no_subject = observation("8867-4", 70, "/min")
    del no_subject["subject"]
    bad_unit = observation("41653-7", 7, "g/L", ident="o2")
    messages = [
        b"{not json",
        reading("glucose", 100, unit="mg/dL", person="stranger"),
        reading("pulse", 70),
        reading("glucose", "high"),
        {**reading("glucose", 100), "effective_at": "2026-11-25T12:00:00"},
        no_subject,
        bad_unit,
        reading("glucose", 100),
    ]
    res = ingest_messages(store, messages)
    assert (res.received, res.stored, res.quarantined) == (8, 1, 7)
    assert quarantine_count(store) == 7
    fields = {p["field"] for p in res.problems}
    assert {"person_id", "kind", "value", "effective_at", "subject.reference",
            "valueQuantity.code"} <= fields  # fmt: skip
    reasons = " ".join(p["reason"] for p in res.problems)
    assert "invalid JSON" in reasons and "not enrolled" in reasons and "no zone" in reasons


def test_implausible_values_are_kept_flagged_and_not_acted_on(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    res = ingest_messages(
        store,
        [reading("spo2", 101), reading("glucose", 5), reading("bp", 120, value2=130),
         reading("glucose", 40, minutes=60 * 24)],  # future: a day ahead of now
        now=NOON_KST,
    )  # fmt: skip
    assert (res.stored, res.implausible, res.alerts) == (4, 4, [])
    flags = {r.reading_id: r.flags for r in _readings(store)}
    assert all(flags.values())
    assert any("future" in f for fl in flags.values() for f in fl)
    assert alerts.worklist(store) == []


def test_out_of_order_and_late_readings_land_by_effective_time(store: CareStore) -> None:
    """HF weights over 4 days, delivered shuffled and one by one: the same alert as in order."""
    store.enrol("p-1", care_team="t", conditions=["hf"])
    series = [reading("weight", 70.0 + 0.8 * d, minutes=60 * 24 * d, rid=f"w{d}") for d in range(4)]
    shuffled = series[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != series
    for msg in shuffled:
        ingest_messages(store, [msg], now=NOON_KST.replace(day=28))
    assert [r.reading_id for r in _readings(store)] == ["w0", "w1", "w2", "w3"]
    [alert] = alerts.worklist(store)
    assert alert.rule_id == "weight.hf_gain" and "w3" in alert.reading_ids
    assert alert.detail["gain_kg_3d"] == 2.4


def test_late_low_weight_raises_the_later_readings_gain(store: CareStore) -> None:
    """The only low reading arrives last (from an offline gateway): the gain it reveals on
    the later reading is found."""
    store.enrol("p-1", care_team="t", conditions=["hf"])
    later = NOON_KST.replace(day=28)
    ingest_messages(store, [reading("weight", 72.5, minutes=60 * 48, rid="late-2")], now=later)
    assert alerts.worklist(store) == []
    res = ingest_messages(store, [reading("weight", 70.0, rid="late-0")], now=later)
    assert [a.rule_id for a in res.alerts] == ["weight.hf_gain"]
    assert res.alerts[0].reading_ids == ["late-2"]


def test_bundle_and_array_messages(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": {"resourceType": "Device", "id": "d"}},
                        {"resource": observation("8867-4", 72, "/min", ident="a")},
                        {"resource": observation("59408-5", 97, "%", ident="b")}]}  # fmt: skip
    res = ingest_messages(store, [bundle, [reading("weight", 60), reading("weight", 61)]])
    assert (res.received, res.stored, res.quarantined) == (3, 4, 0)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 4


def test_http_status_of_a_result(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    obs = observation("8867-4", 72, "/min")
    assert ingest_observation(store, obs).http_status == 201
    assert ingest_observation(store, obs).http_status == 200
    bad = ingest_observation(store, {**obs, "subject": {"reference": "Group/x"}})
    assert bad.http_status == 422 and bad.problems[0]["field"] == "subject.reference"


def test_awkward_text_round_trips_exactly(store: CareStore) -> None:
    """Quotes, backslashes, commas, braces and Hangul survive the batch insert paths."""
    store.enrol("p-1", care_team="t")
    rid = 'dev\\1/"x",{y}/혈압 NULL'
    ctx = {"note": 'says "dizzy" \\ 어지러움, {}', "on_oxygen": True, "symptoms": []}
    msg = {**reading("spo2", 97, rid=rid), "device_id": 'omron\\7 "A"', "context": ctx}
    assert ingest_messages(store, [msg, reading("bp", 120, value2=None)]).stored == 2
    got = {r.reading_id: r for r in _readings(store)}
    r = got[rid]
    assert (r.device_id, r.context, r.on_oxygen) == ('omron\\7 "A"', ctx, True)
    assert r.effective_at == NOON_KST
    assert [x.norm_value2 for x in got.values() if x.kind == "bp"] == [None]
    assert ingest_messages(store, [msg]).duplicates == 1


def test_a_poison_message_is_quarantined_not_fatal(store: CareStore) -> None:
    store.enrol("p-1", care_team="t")
    huge = {**reading("glucose", 1), "value": 10**400}  # float() overflows
    odd_ctx = {**reading("glucose", 99), "context": {"x": float("nan")}}
    res = ingest_messages(store, [huge, reading("glucose", 100), odd_ctx])
    assert res.stored >= 1 and res.stored + res.quarantined == 3
    assert any("value" in (p["field"] or "") or "unreadable" in p["reason"] for p in res.problems)


def test_transaction_bundle_with_urn_subject_and_one_bad_entry(store: CareStore) -> None:
    """A PHD-style upload: Patient by urn:uuid; the bad Observation is quarantined alone."""
    store.enrol("p-1", care_team="t")
    good = {**observation("59408-5", 96, "%", ident="g"), "subject": {"reference": "urn:uuid:1"}}
    bad = observation("59408-5", 96, "g/L", ident="b")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p-1"}},
        {"fullUrl": "urn:uuid:2", "resource": good},
        {"fullUrl": "urn:uuid:3", "resource": bad},
    ]}  # fmt: skip
    res = ingest_messages(store, [bundle])
    assert (res.stored, res.quarantined) == (1, 1)
    assert res.problems[0]["field"] == "entry[2].resource.valueQuantity.code"
    assert _readings(store)[0].person_id == "p-1"
