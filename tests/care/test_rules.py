"""Every monitoring rule at its threshold and just past it, with the source of the line.

Each case enrols one person, ingests the readings (at 12:00 Seoul time unless shifted) and
compares the open alerts (rule, severity).  Sources are the ids of ``thresholds.SOURCES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from axhub.care import alerts
from axhub.care.intake import ingest_messages
from axhub.care.store import CareStore

from .conftest import NOON_KST
from .readings import reading as r

H = 60
D = 24 * 60


@dataclass
class Case:
    id: str
    source: str
    readings: list[dict[str, Any]]
    expected: set[tuple[str, str]]
    conditions: tuple[str, ...] = ()
    personal: dict[str, float] = field(default_factory=dict)


CASES = [
    # --- blood pressure --------------------------------------------------------------------
    Case("bp 180/100 at the severe line", "ACCAHA2025 > 180", [r("bp", 180, value2=100)], set()),
    Case("bp 181/100 unconfirmed", "ACCAHA2025 > 180; REF_3",
         [r("bp", 181, value2=100)], {("bp.severe_unconfirmed", "warning")}),
    Case("bp 150/120 at the diastolic line", "ACCAHA2025 > 120", [r("bp", 150, value2=120)], set()),
    Case("bp 150/121 unconfirmed", "ACCAHA2025 > 120",
         [r("bp", 150, value2=121)], {("bp.severe_unconfirmed", "warning")}),
    Case("bp severe confirmed by a repeat within 60 min", "ACCAHA2025; REF_3",
         [r("bp", 185, value2=100), r("bp", 183, value2=98, minutes=10)],
         {("bp.severe", "urgent")}),  # the unconfirmed alert is superseded
    Case("bp repeat 61 min later does not confirm", "REF_3 window DESIGN 60 min",
         [r("bp", 185, value2=100), r("bp", 183, value2=98, minutes=61)],
         {("bp.severe_unconfirmed", "warning")}),
    Case("bp severe with chest pain is an emergency", "ACCAHA2025 hypertensive emergency",
         [r("bp", 182, value2=100, symptoms=["chest_pain"])],
         {("bp.emergency", "emergency"), ("symptoms.red_flag", "urgent")}),
    Case("sbp 219", "NEWS2 >= 220", [r("bp", 219, value2=100)],
         {("bp.severe_unconfirmed", "warning")}),
    Case("sbp 220", "NEWS2 >= 220", [r("bp", 220, value2=100)],
         {("bp.severe_unconfirmed", "warning"), ("bp.extreme", "urgent")}),
    Case("sbp 91 not low", "NEWS2 <= 90", [r("bp", 91, value2=60)], set()),
    Case("sbp 90 low", "NEWS2 <= 90 scores 3", [r("bp", 90, value2=60)], {("bp.low", "urgent")}),
    Case("sbp 100 at personal line 100", "NEWS2 91-100; personal", [r("bp", 100, value2=60)],
         {("bp.low", "warning")}, personal={"bp_low_sys": 100}),
    Case("sbp 101 above personal line 100", "personal", [r("bp", 101, value2=60)], set(),
         personal={"bp_low_sys": 100}),
    Case("7-day mean home bp 135/80", "KSH >= 135/85",
         [r("bp", 130, value2=80, minutes=-5 * D), r("bp", 140, value2=80, minutes=-2 * D),
          r("bp", 135, value2=80)], {("bp.home_uncontrolled", "info")}),
    Case("7-day mean home bp 134.7/84.7", "KSH >= 135/85",
         [r("bp", 134, value2=84, minutes=-5 * D), r("bp", 135, value2=85, minutes=-2 * D),
          r("bp", 135, value2=85)], set()),
    Case("7-day mean needs 3 readings", "DESIGN min readings",
         [r("bp", 150, value2=95, minutes=-1 * D), r("bp", 150, value2=95)], set()),
    Case("old readings fall out of the 7-day mean", "KSH 7-day window",
         [r("bp", 170, value2=95, minutes=-8 * D), r("bp", 130, value2=80, minutes=-1 * D),
          r("bp", 130, value2=80, minutes=-H), r("bp", 131, value2=80)], set()),
    Case("personal home line 140", "KSH; personal", [r("bp", 138, value2=80, minutes=-m) for m in
         (0, D, 2 * D)], set(), personal={"bp_home_sys": 140}),
    # --- glucose ------------------------------------------------------------------------------
    Case("glucose 70", "ADA6 < 70", [r("glucose", 70)], set()),
    Case("glucose 69", "ADA6 < 70", [r("glucose", 69)], {("glucose.hypo_l1", "warning")}),
    Case("glucose 54 is level 1", "ADA6 < 54", [r("glucose", 54)],
         {("glucose.hypo_l1", "warning")}),
    Case("glucose 53 is level 2", "ADA6 < 54", [r("glucose", 53)], {("glucose.hypo_l2", "urgent")}),
    Case("glucose 69 at 02:00 local is urgent", "ADA6; night DESIGN/NIGHTSCOUT",
         [r("glucose", 69, minutes=-10 * H)], {("glucose.hypo_l1", "urgent")}),
    Case("glucose 69 at 06:00 local is day", "night 00-06 DESIGN",
         [r("glucose", 69, minutes=-6 * H)], {("glucose.hypo_l1", "warning")}),
    Case("hypo with confusion is level 3", "ADA6 level 3",
         [r("glucose", 65, symptoms=["confusion"])],
         {("glucose.hypo_l3", "emergency"), ("symptoms.red_flag", "urgent")}),
    Case("personal low line 80: 79", "ADA6; NIGHTSCOUT 80", [r("glucose", 79)],
         {("glucose.hypo_l1", "warning")}, personal={"glucose_low": 80}),
    Case("glucose 180", "TIR2019 > 180", [r("glucose", 180)], set()),
    Case("glucose 181", "TIR2019 > 180", [r("glucose", 181)], {("glucose.hyper_l1", "info")}),
    Case("glucose 250", "TIR2019 > 250", [r("glucose", 250)], {("glucose.hyper_l1", "info")}),
    Case("glucose 251", "TIR2019 > 250", [r("glucose", 251)], {("glucose.hyper_l2", "warning")}),
    Case("glucose 600", "ADA_HHS > 600", [r("glucose", 600)], {("glucose.hyper_l2", "warning")}),
    Case("glucose 601", "ADA_HHS > 600", [r("glucose", 601)], {("glucose.hhs", "urgent")}),
    Case("glucose 601 with confusion", "ADA_HHS",
         [r("glucose", 601, symptoms=["confusion"])],
         {("glucose.hhs", "emergency"), ("symptoms.red_flag", "urgent")}),
    Case("glucose 10.0 mmol/L is 180", "TIR2019 (10.0 mmol/L)", [r("glucose", 10.0,
         unit="mmol/L")], set()),
    Case("glucose 3.8 mmol/L", "ADA6 (3.9 mmol/L)", [r("glucose", 3.8, unit="mmol/L")],
         {("glucose.hypo_l1", "warning")}),
    # --- SpO2 ---------------------------------------------------------------------------------
    Case("spo2 95", "NHS_OXIMETRY >= 95 routine", [r("spo2", 95)], set()),
    Case("spo2 94", "NHS_OXIMETRY 93-94", [r("spo2", 94)], {("spo2.low", "warning")}),
    Case("spo2 93", "NHS_OXIMETRY 93-94", [r("spo2", 93)], {("spo2.low", "warning")}),
    Case("spo2 92", "NHS_OXIMETRY <= 92", [r("spo2", 92)], {("spo2.low", "urgent")}),
    Case("copd spo2 88 on target", "BTS2017 88-92", [r("spo2", 88)], set(), ("copd",)),
    Case("copd spo2 92 on target", "BTS2017 88-92", [r("spo2", 92)], set(), ("copd",)),
    Case("copd spo2 87", "BTS2017 below target", [r("spo2", 87)], {("spo2.low", "warning")},
         ("copd",)),
    Case("copd spo2 84", "NEWS2 Scale 2 84-85", [r("spo2", 84)], {("spo2.low", "warning")},
         ("copd",)),
    Case("copd spo2 83", "NEWS2 Scale 2 <= 83", [r("spo2", 83)], {("spo2.low", "urgent")},
         ("copd",)),
    Case("copd spo2 96 on oxygen", "NEWS2 Scale 2 95-96 on O2",
         [r("spo2", 96, on_oxygen=True)], set(), ("copd",)),
    Case("copd spo2 97 on oxygen", "NEWS2 Scale 2 >= 97 on O2 (3) + oxygen (2) = NEWS2 5",
         [r("spo2", 97, on_oxygen=True)],
         {("spo2.high_on_oxygen", "urgent"), ("news2.score", "urgent")}, ("copd",)),
    Case("spo2 fall of 2 from usual", "BTS2017 >= 3",
         [r("spo2", 98, minutes=-m * D) for m in (1, 2, 3)] + [r("spo2", 96)], set(),
         personal={"spo2_warn": 92}),
    Case("spo2 fall of 3 from usual", "BTS2017 >= 3",
         [r("spo2", 98, minutes=-m * D) for m in (1, 2, 3)] + [r("spo2", 95)],
         {("spo2.drop", "warning")}, personal={"spo2_warn": 92}),
    # --- heart-failure weight ---------------------------------------------------------------
    Case("hf gain 2.0 kg in 2 days", "ESC_HFA2021 > 2 kg",
         [r("weight", 70.0, minutes=-2 * D), r("weight", 72.0)], set(), ("hf",)),
    Case("hf gain 2.1 kg in 2 days", "ESC_HFA2021 > 2 kg",
         [r("weight", 70.0, minutes=-2 * D), r("weight", 72.1)], {("weight.hf_gain", "warning")},
         ("hf",)),
    Case("hf gain 2.5 kg over 3 days and 1 h", "ESC_HFA2021 3-day window",
         [r("weight", 70.0, minutes=-3 * D - H), r("weight", 72.5)], set(), ("hf",)),
    Case("gain without heart failure", "ESC_HFA2021 (HF only)",
         [r("weight", 70.0, minutes=-2 * D), r("weight", 72.5)], set()),
    Case("hf personal 1.5 kg: 1.6 kg", "AHA_HF_PATIENT",
         [r("weight", 70.0, minutes=-D), r("weight", 71.6)], {("weight.hf_gain", "warning")},
         ("hf",), {"weight_gain_3d": 1.5}),
    Case("hf gain in pounds", "ESC_HFA2021; 1 lb = 0.45359237 kg",
         [r("weight", 154.0, unit="lb", minutes=-D), r("weight", 159.0, unit="lb")],
         {("weight.hf_gain", "warning")}, ("hf",)),
    # --- temperature ----------------------------------------------------------------------------
    Case("frail 37.8", "IDSA2008 single > 37.8", [r("temperature", 37.8)], set(), ("frail",)),
    Case("frail 37.9", "IDSA2008 single > 37.8", [r("temperature", 37.9)],
         {("temp.fever_frail", "warning")}, ("frail",)),
    Case("frail 100.1 F", "IDSA2008 > 100 F", [r("temperature", 100.1, unit="[degF]")],
         {("temp.fever_frail", "warning")}, ("frail",)),
    Case("frail repeated 37.3", "IDSA2008 repeated > 37.2",
         [r("temperature", 37.3, minutes=-10 * H), r("temperature", 37.3)],
         {("temp.fever_frail", "warning")}, ("frail",)),
    Case("frail repeated 37.2", "IDSA2008 repeated > 37.2",
         [r("temperature", 37.2, minutes=-10 * H), r("temperature", 37.2)], set(), ("frail",)),
    Case("frail rise 1.2 over baseline", "IDSA2008 rise > 1.1",
         [r("temperature", 35.9, minutes=-m * D) for m in (2, 3, 4)] + [r("temperature", 37.1)],
         {("temp.fever_frail", "warning")}, ("frail",)),
    Case("frail rise 1.1 over baseline", "IDSA2008 rise > 1.1",
         [r("temperature", 36.0, minutes=-m * D) for m in (2, 3, 4)] + [r("temperature", 37.1)],
         set(), ("frail",)),
    Case("not frail 37.9", "IDSA2008 applies to frail elders", [r("temperature", 37.9)], set()),
    Case("temp 39.0", "NEWS2 >= 39.1", [r("temperature", 39.0)], set()),
    Case("temp 39.1", "NEWS2 >= 39.1", [r("temperature", 39.1)], {("temp.high", "warning")}),
    Case("temp 35.1", "NEWS2 <= 35.0", [r("temperature", 35.1)], set()),
    Case("temp 35.0", "NEWS2 <= 35.0", [r("temperature", 35.0)], {("temp.low", "urgent")}),
    # --- pulse, respiration, consciousness ----------------------------------------------------
    Case("hr 41", "NEWS2 <= 40", [r("heart_rate", 41)], set()),
    Case("hr 40", "NEWS2 <= 40", [r("heart_rate", 40)], {("hr.extreme", "urgent")}),
    Case("hr 130", "NEWS2 >= 131", [r("heart_rate", 130)], set()),
    Case("hr 131", "NEWS2 >= 131", [r("heart_rate", 131)], {("hr.extreme", "urgent")}),
    Case("rr 9", "NEWS2 <= 8", [r("resp_rate", 9)], set()),
    Case("rr 8", "NEWS2 <= 8", [r("resp_rate", 8)], {("rr.extreme", "urgent")}),
    Case("rr 24", "NEWS2 >= 25", [r("resp_rate", 24)], set()),
    Case("rr 25", "NEWS2 >= 25", [r("resp_rate", 25)], {("rr.extreme", "urgent")}),
    Case("alert", "NEWS2 ACVPU", [r("consciousness", "A")], set()),
    Case("new confusion", "NEWS2 CVPU", [r("consciousness", "C")],
         {("consciousness.cvpu", "urgent")}),
    Case("syncope reported with a normal reading", "reference §3 symptoms",
         [r("heart_rate", 72, symptoms=["syncope"])], {("symptoms.red_flag", "urgent")}),
    # --- NEWS2 --------------------------------------------------------------------------------
    Case("news2 4", "NEWS2 Chart 4 5-6",
         [r("resp_rate", 20, minutes=-30), r("spo2", 95, minutes=-20), r("bp", 105, value2=70,
          minutes=-10), r("heart_rate", 95, minutes=-5), r("temperature", 38.5)], set()),
    Case("news2 5", "NEWS2 Chart 4 5-6",
         [r("resp_rate", 21, minutes=-30), r("spo2", 95, minutes=-20), r("bp", 105, value2=70,
          minutes=-10), r("heart_rate", 95, minutes=-5), r("temperature", 38.5)],
         {("news2.score", "urgent")}),
    Case("news2 7", "NEWS2 Chart 4 >= 7",
         [r("resp_rate", 22, minutes=-30), r("spo2", 95, minutes=-20), r("bp", 100, value2=70,
          minutes=-10), r("heart_rate", 112, minutes=-5)], {("news2.score", "emergency")}),
    Case("news2 ignores vitals older than 1 h", "reference §3.8 window 1 h",
         [r("resp_rate", 22, minutes=-121), r("spo2", 95, minutes=-20), r("bp", 100, value2=70,
          minutes=-10), r("heart_rate", 112, minutes=-5)], {("news2.score", "urgent")}),
]  # fmt: skip


def _as_person(case: Case, person: str, tag: str) -> list[dict[str, Any]]:
    return [{**m, "person_id": person, "reading_id": f"{tag}/{person}/{m['reading_id']}"}
            for m in case.readings]  # fmt: skip


@pytest.fixture(scope="module")
def rules_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CareStore]:
    """One store for the table; each case has its own person, so cases do not meet."""
    store = CareStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('rules') / 'care.sqlite'}")
    yield store
    store.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_lines(rules_store: CareStore, case: Case) -> None:
    assert case.source
    person = f"case-{CASES.index(case)}"
    rules_store.enrol(person, care_team="t", conditions=case.conditions, thresholds_=case.personal)
    msgs = _as_person(case, person, "lines")
    res = ingest_messages(rules_store, msgs, now=NOON_KST + timedelta(hours=1))
    assert res.stored == len(msgs)
    got = {(a.rule_id, a.severity) for a in alerts.worklist(rules_store, person_id=person)}
    assert got == case.expected


def test_same_result_one_by_one_and_in_one_batch(tmp_path: Path) -> None:
    """Vectorised batch evaluation and the single-reading path agree on every case."""
    now = NOON_KST + timedelta(hours=1)
    batch = CareStore.from_url(f"sqlite:///{tmp_path / 'batch.sqlite'}")
    single = CareStore.from_url(f"sqlite:///{tmp_path / 'single.sqlite'}")
    everything: list[dict[str, Any]] = []
    for i, case in enumerate(CASES):
        for st in (batch, single):
            st.enrol(f"c{i}", care_team="t", conditions=case.conditions, thresholds_=case.personal)
        msgs = _as_person(case, f"c{i}", "same")
        everything.extend(msgs)
        for m in msgs:
            ingest_messages(single, [m], now=now)
    ingest_messages(batch, everything, now=now)  # all cases, all persons, one batch
    for i, case in enumerate(CASES):
        got = [{(a.rule_id, a.severity) for a in alerts.worklist(st, person_id=f"c{i}")}
               for st in (batch, single)]  # fmt: skip
        assert got[0] == got[1] == case.expected, case.id
    batch.close()
    single.close()


def test_home_bp_alert_shows_the_trend_against_the_week_before(sqlite_store: CareStore) -> None:
    sqlite_store.enrol("p-1", care_team="t")
    week_before = [r("bp", 128, value2=80, minutes=-(8 + d) * D) for d in range(3)]
    this_week = [r("bp", 140, value2=84, minutes=-d * D) for d in range(3)]
    ingest_messages(sqlite_store, week_before + this_week, now=NOON_KST + timedelta(hours=1))
    [a] = alerts.worklist(sqlite_store)
    assert a.rule_id == "bp.home_uncontrolled"
    assert (a.detail["mean_sys_7d"], a.detail["mean_sys_prev_7d"], a.detail["trend"]) == (
        140.0, 128.0, "rising",
    )  # fmt: skip
