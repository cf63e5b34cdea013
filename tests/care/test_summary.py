"""The patient summary the agents read: per-kind statistics and open alerts."""

from __future__ import annotations

from datetime import timedelta

from axhub.care.intake import ingest_messages
from axhub.care.store import CareStore
from axhub.care.summary import person_summary

from .conftest import NOON_KST
from .readings import reading


def test_summary_of_a_week(store: CareStore) -> None:
    store.enrol("p-1", care_team="north", conditions=["hf"])
    ingest_messages(store, [
        reading("weight", 70.0, minutes=-2 * 24 * 60), reading("weight", 72.4),
        reading("bp", 128, value2=80, minutes=-60), reading("bp", 136, value2=88),
        reading("spo2", 120),  # implausible: kept aside
        reading("glucose", 110, minutes=-9 * 24 * 60),  # outside the 7 days
    ], now=NOON_KST)  # fmt: skip
    out = person_summary(store, "p-1", now=NOON_KST + timedelta(minutes=1))
    by = {k["kind"]: k for k in out["kinds"]}
    assert set(by) == {"weight", "bp", "spo2"}
    assert (by["weight"]["readings"], by["weight"]["low"], by["weight"]["last"]) == (2, 70.0, 72.4)
    assert (by["bp"]["mean"], by["bp"]["last"], by["bp"]["last2"]) == (132.0, 136.0, 88.0)
    assert (by["spo2"]["readings"], by["spo2"]["implausible"], by["spo2"]["last"]) == (0, 1, None)
    assert [a["rule_id"] for a in out["open_alerts"]] == ["weight.hf_gain"]
    assert out["care_team"] == "north" and out["conditions"] == ["hf"]
