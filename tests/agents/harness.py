"""Scenario harness: a care store, the governance boundary and the agents of one team."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from axhub.agents import approvals
from axhub.agents.care_agents import CareAgents, Report
from axhub.agents.runtime import AgentRuntime, RunResult
from axhub.agents.writer import MessageWriter
from axhub.care.intake import ingest_messages
from axhub.care.models import CarePlan, Enrolment, Message, Task
from axhub.care.store import CareStore
from axhub.care.sweep import sweep
from axhub.config import Settings
from axhub.errors import PolicyDenied
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Principal, Role

TEAM = "north-1"
SEOUL = ZoneInfo("Asia/Seoul")
BASE = datetime(2026, 11, 20, tzinfo=SEOUL)
CLINICIAN = Principal("dr-park", Role.CLINICIAN, site="phc")


def pid(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


def at(spec: str) -> datetime:
    """``"D HH:MM"`` → day D (0-based) after the base date, local Korea time."""
    day, hm = spec.split()
    h, m = hm.split(":")
    return BASE + timedelta(days=int(day), hours=int(h), minutes=int(m))


@dataclass
class Env:
    store: CareStore
    governed: GovernedStore
    agents: CareAgents
    results: list[RunResult] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def make_env(tmp: Path, writer: MessageWriter | None = None, care_db_url: str = "") -> Env:
    settings = Settings(data_dir=tmp, care_db_url=care_db_url)
    store = CareStore.open(settings)
    governed = GovernedStore(settings)
    rt = AgentRuntime(store, governed, care_team=TEAM, on_behalf_of="nurse-kim", writer=writer)
    return Env(store, governed, CareAgents(rt))


def enrol(env: Env, sc: dict[str, Any]) -> str:
    person = pid(sc["id"])
    env.store.enrol(
        person, care_team=TEAM, conditions=sc.get("conditions", []),
        thresholds_=sc.get("thresholds"), schedule=sc.get("schedule"),
        language=sc.get("language", "ko"), by="nurse-kim",
    )  # fmt: skip
    with env.store.session() as s:  # enrolled the day before the scenario starts
        row = s.get(Enrolment, person)
        assert row is not None
        row.enrolled_at = BASE - timedelta(days=1)
    if sc.get("medications"):
        with env.store.session() as s:
            s.add(CarePlan(person_id=person, title="home care", author="nurse-kim",
                           activities={"medications": sc["medications"]}))  # fmt: skip
    return person


def play(env: Env, sc: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario's events through intake → monitoring → agents; return what happened."""
    person = enrol(env, sc)
    for i, ev in enumerate(sc["events"]):
        now = at(ev["at"])
        if "reading" in ev:
            r = dict(ev["reading"])
            msg = {"reading_id": f"{sc['id']}/{i}", "person_id": person, "kind": r.pop("kind"),
                   "value": r.pop("value"), "unit": r.pop("unit"), "effective_at": now.isoformat(),
                   "device_id": f"dev-{sc['id']}", **r}  # fmt: skip
            res = ingest_messages(env.store, [msg], source="mqtt", now=now)
            env.results += env.agents.on_intake(res.alerts, res.new_reading_ids, now)
        elif "message" in ev:
            rep = Report(person, now, ev["message"], tuple(ev.get("symptoms", ())))
            env.results.append(env.agents.home_message(rep))
        elif "sweep" in ev:
            with env.store.session() as s:
                changes = sweep(s, now)
            env.results += env.agents.on_intake(changes, [], now)
        elif "daily" in ev:
            env.results.append(env.agents.home_daily(person, now))
        elif "decide" in ev:
            for a in approvals.pending(env.store, care_team=TEAM):
                approvals.decide(env.store, a.id, by=CLINICIAN, approve=ev["decide"] == "approve",
                                 reason="reviewed in scenario", now=now)  # fmt: skip
        elif "apply" in ev:
            mine = [a for a in _all_approvals(env) if a.person_id == person]
            run = env.agents.rt.start("home-care", "apply", person_id=person, inputs={}, now=now)
            for a in mine:
                try:
                    run.call(
                        "apply_medication_change",
                        "clinician decision",
                        person_id=person,
                        approval_id=a.id,
                    )
                except PolicyDenied as exc:
                    env.refused.append(exc.message)
            env.results.append(run.finish("apply approved changes", {}))
        else:
            raise AssertionError(f"scenario {sc['id']}: unknown event {ev}")
    return outcome(env, person)


def _all_approvals(env: Env) -> list[approvals.ApprovalView]:
    from sqlalchemy import select

    from axhub.care.models import Approval

    with env.store.session() as s:
        ids = list(s.scalars(select(Approval.id).order_by(Approval.id)))
    return [approvals.get(env.store, i) for i in ids]


def outcome(env: Env, person: str) -> dict[str, Any]:
    from sqlalchemy import select

    with env.store.session() as s:
        task_kinds = sorted(set(s.scalars(select(Task.kind).where(Task.person_id == person))))
        templates = sorted(
            set(
                s.scalars(
                    select(Message.template_id).where(
                        Message.person_id == person,
                        Message.channel == "app",
                        Message.direction == "out",
                    )
                )
            )
        )
        esc = s.execute(select(Task.kind, Task.detail).where(
            Task.person_id == person, Task.kind.like("escalation.%"))).all()  # fmt: skip
    levels = {k.split(".", 1)[1] for k, _ in esc}
    level = "emergency" if "emergency" in levels else ("urgent" if levels else None)
    mine = [a for a in _all_approvals(env) if a.person_id == person]
    return {
        "escalation": level,
        "last_known_well": any(d.get("last_known_well") not in (None, "unknown") for _, d in esc),
        "tasks": task_kinds,
        "templates": [t for t in templates if t],
        "approvals_pending": sum(a.status == "pending" for a in mine),
        "medication_applied": any(a.status == "executed" for a in mine),
        "applied_without_approval": any(
            a.status == "executed" and a.decided_by is None for a in mine
        ),
        "refused": len(env.refused),
    }
