"""The edge rule table equals the hub's, the edge rules fire as the hub's do, and the
gateway imports nothing heavy."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from axhub.care import rules as hub_rules
from axhub.care import thresholds
from axhub.care.frames import Frame, Person
from axhub.edge import rules as edge_rules
from axhub.edge.gateway import EdgeConfig
from axhub.edge.table import (
    ALTERED_STATUS,
    EDGE_RULES,
    NIGHT_HOURS,
    RED_FLAG_SYMPTOMS,
    TARGET_ORGAN_SYMPTOMS,
    local_message,
)
from axhub.errors import InputError


def test_edge_table_equals_hub_table() -> None:
    for rid, rule in EDGE_RULES.items():
        hub = hub_rules.RULES[rid]
        assert (rule.severity, rule.title_en, rule.title_ko, rule.source) == (
            hub.severity, hub.title_en, hub.title_ko, hub.source,
        ), rid  # fmt: skip
    assert TARGET_ORGAN_SYMPTOMS == hub_rules.TARGET_ORGAN_SYMPTOMS
    assert RED_FLAG_SYMPTOMS == hub_rules.RED_FLAG_SYMPTOMS
    assert ALTERED_STATUS == hub_rules.ALTERED_STATUS
    assert NIGHT_HOURS == hub_rules.NIGHT_HOURS
    # every urgent/emergency single-reading rule of the hub runs on the edge
    history_rules = {"news2.score", "device.silent", "adherence.missed", "spo2.drop",
                     "weight.hf_gain", "temp.fever_frail", "bp.home_uncontrolled"}  # fmt: skip
    urgent_hub = {r.id for r in hub_rules.RULES.values() if r.severity in ("urgent", "emergency")}
    assert urgent_hub - history_rules <= set(EDGE_RULES)


PEOPLE = {
    "a": ({}, ()),
    "copd": ({}, ("copd",)),
    "tight": ({"glucose_low": 80.0, "bp_low_sys": 110.0, "spo2_warn": 95.0}, ("frail",)),
}
KINDS = {  # kind -> value range that crosses every edge line
    "bp": (60.0, 240.0),
    "glucose": (30.0, 650.0),
    "spo2": (78.0, 100.0),
    "temperature": (34.0, 40.0),
    "heart_rate": (30.0, 150.0),
    "resp_rate": (5.0, 30.0),
    "consciousness": (0.0, 1.0),
}
SYMPTOMS = [[], [], [], ["chest_pain"], ["confusion"], ["unresponsive"], ["syncope"]]


def _readings(n: int, seed: int) -> list[edge_rules.LocalReading]:
    rng = random.Random(seed)
    t0 = int(datetime(2026, 11, 25, 0, 0, tzinfo=UTC).timestamp())
    out = []
    t = t0
    for i in range(n):
        t += rng.randint(60, 900)
        kind = rng.choice(list(KINDS))
        lo, hi = KINDS[kind]
        v = float(rng.randint(0, 1)) if kind == "consciousness" else round(rng.uniform(lo, hi))
        v2 = round(rng.uniform(40, 130)) if kind == "bp" else None
        if v2 is not None and v2 >= v:
            v2 = v - 10
        out.append(
            edge_rules.LocalReading(
                f"r{i}", rng.choice(list(PEOPLE)), kind, v, v2, t,
                rng.random() < 0.3, frozenset(rng.choice(SYMPTOMS)),
            )
        )  # fmt: skip
    return out


def _hub_firings(
    rs: list[edge_rules.LocalReading], people: dict[str, Person]
) -> set[tuple[str, str, str]]:
    """The hub's rules, reading by reading in time order (the edge sees only the past)."""
    out = set()
    bits = hub_rules.symptom_mask

    def frame(sub: list[edge_rules.LocalReading]) -> Frame:
        return Frame(
            np.array([r.person_id for r in sub], dtype=object),
            np.array([r.kind for r in sub], dtype=object),
            np.array([r.t for r in sub], dtype=np.int64),
            np.array([r.value for r in sub], dtype=np.float64),
            np.array([np.nan if r.value2 is None else r.value2 for r in sub]),
            np.array([r.on_oxygen for r in sub], dtype=bool),
            np.array([r.reading_id for r in sub], dtype=object),
            np.array([bits(sorted(r.symptoms)) for r in sub], dtype=np.int64),
        )

    for i, r in enumerate(rs):
        fired = hub_rules.evaluate(frame([r]), frame(rs[: i + 1]), people, datetime.now(UTC))
        out |= {(f.reading_id, f.rule_id, f.severity) for f in fired if f.rule_id in EDGE_RULES}
    return out


def test_edge_rules_fire_as_the_hub_rules_do() -> None:
    rs = _readings(600, seed=4)
    config = EdgeConfig.from_dict(
        {"persons": {p: {"thresholds": th, "conditions": list(c)} for p, (th, c) in PEOPLE.items()}}
    )
    people = {
        p: Person(thresholds.effective(th, c), frozenset(c), "Asia/Seoul")
        for p, (th, c) in PEOPLE.items()
    }
    edge: set[tuple[str, str, str]] = set()
    for i, r in enumerate(rs):
        near = sum(
            1 for q in rs[: i + 1]
            if q.kind == "bp" and q.person_id == r.person_id and abs(q.t - r.t) <= 3600
            and edge_rules.bp_severe(q.value, q.value2)
        )  # fmt: skip
        found = edge_rules.evaluate(r, config.person(r.person_id), severe_bp_in_window=near)
        edge |= {(f.reading_id, f.rule_id, f.severity) for f in found}
    hub = _hub_firings(rs, people)
    assert len(hub) > 100  # the random readings cross the lines often
    assert {f[1] for f in hub} >= {"bp.severe", "bp.emergency", "glucose.hypo_l2", "spo2.low"}
    assert edge == hub


def test_personal_thresholds_are_held_to_the_hub_safety_limits() -> None:
    with pytest.raises(InputError) as err:
        EdgeConfig.from_dict({"persons": {"p-1": {"thresholds": {"glucose_low": 60}}}}, "cfg.json")
    assert err.value.fields["file"] == "cfg.json"
    assert err.value.fields["field"] == "persons.p-1.thresholds.glucose_low"


def test_local_messages_exist_in_korean_and_english() -> None:
    for rid, rule in EDGE_RULES.items():
        for sev in {rule.severity, "urgent", "emergency"}:
            en, ko = local_message(rid, sev, offline=True)
            assert rule.title_en in en and rule.title_ko in ko
    en, ko = local_message("bp.emergency", "emergency", offline=False)
    assert "119" in en and "119" in ko and "not been told" not in en


def test_gateway_imports_no_hub_stack() -> None:
    code = (
        "import sys; import axhub.edge.gateway, axhub.edge.transport, axhub.edge.scorer; "
        "bad = [m for m in ('sqlalchemy', 'alembic', 'pyarrow', 'duckdb', 'sklearn', "
        "'fastapi', 'pandas') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
