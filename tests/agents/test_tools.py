"""Observe tools on real data: NEWS2 from home vitals, medication safety, bilingual messages."""

from __future__ import annotations

from sqlalchemy import select

from axhub.agents.planner import triage_priority
from axhub.agents.templates import TEMPLATES
from axhub.care.intake import ingest_messages
from axhub.care.models import Message

from .harness import Env, at, enrol


def _vitals(env: Env, person: str) -> None:
    t = at("1 08:00")
    rows = [("resp_rate", 26, "/min"), ("spo2", 91, "%"), ("heart_rate", 120, "/min"),
            ("temperature", 38.5, "Cel"), ("consciousness", "A", "{ACVPU}")]  # fmt: skip
    msgs = [{"reading_id": f"v{i}", "person_id": person, "kind": k, "value": v, "unit": u,
             "effective_at": t.isoformat()} for i, (k, v, u) in enumerate(rows)]  # fmt: skip
    msgs.append({"reading_id": "v-bp", "person_id": person, "kind": "bp", "value": 95,
                 "value2": 60, "unit": "mmHg", "effective_at": t.isoformat()})  # fmt: skip
    ingest_messages(env.store, msgs, now=t)


def test_news2_from_home_vitals(env: Env) -> None:
    person = enrol(env, {"id": "news-1"})
    _vitals(env, person)
    run = env.agents.rt.start("triage", "t", person_id=person, inputs={}, now=at("1 08:30"))
    risk = run.call("risk_scores", person_id=person).model_dump()
    # RCP 2017: RR 26 -> 3, SpO2 91 (scale 1) -> 3, air -> 0, SBP 95 -> 2, pulse 120 -> 2,
    # alert -> 0, 38.5 C -> 1
    assert (risk["news2"], risk["news2_risk"]) == (11, "high")
    assert risk["vitals"]["consciousness"] == "A"
    late = env.agents.rt.start("triage", "t", person_id=person, inputs={}, now=at("9 08:30"))
    assert late.call("risk_scores", person_id=person).model_dump()["news2"] is None


def test_warning_with_high_news2_is_triaged_high() -> None:
    assert triage_priority("warning", 5)[0] == "high"
    assert triage_priority("warning", 4)[0] == "medium"
    assert triage_priority("warning", None)[0] == "medium"
    assert triage_priority("info", 9)[0] == "low"
    assert triage_priority("urgent", None)[0] == "high"


def test_medication_check_tool_uses_medsafety(env: Env) -> None:
    person = enrol(env, {"id": "med-1"})
    run = env.agents.rt.start("home-care", "t", person_id=person, inputs={})
    found = run.call("medication_check", person_id=person, drugs=["warfarin", "aspirin"])
    kinds = {(f["kind"], f["drug"], f["other"]) for f in found.model_dump()["findings"]}
    assert any(k[0] == "drug-drug" for k in kinds), kinds


def test_messages_go_out_in_the_persons_language(env: Env) -> None:
    ko = enrol(env, {"id": "lang-ko", "language": "ko"})
    en = enrol(env, {"id": "lang-en", "language": "en"})
    run = env.agents.rt.start("home-care", "t", person_id=None, inputs={})
    for p in (ko, en):
        run.call("message_patient", person_id=p, template="device_check")
    with env.store.session() as s:
        bodies = dict(s.execute(select(Message.person_id, Message.body)).all())
    assert bodies[ko] == TEMPLATES["device_check"].ko
    assert bodies[en] == TEMPLATES["device_check"].en
