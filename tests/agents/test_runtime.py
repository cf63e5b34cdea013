"""Runtime: typed tools, action classes, approvals that survive a restart, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from axhub.agents import approvals
from axhub.agents.care_agents import Report
from axhub.agents.runtime import AgentRuntime
from axhub.agents.tools import AUTONOMOUS, TOOLS, ActionClass
from axhub.care.models import AgentRun, Task
from axhub.care.store import CareStore
from axhub.config import Settings
from axhub.errors import InputError, PolicyDenied
from axhub.governance.audit import PSEUDONYM
from axhub.governance.principals import Principal, Role

from .harness import CLINICIAN, TEAM, Env, at, enrol, make_env, pid

SC = {"id": "rt-1", "conditions": ["hypertension"], "medications": ["amlodipine"],
      "language": "en"}  # fmt: skip


def _propose(env: Env) -> int:
    person = enrol(env, SC)
    res = env.agents.home_message(Report(person, at("1 10:00"), "Can I reduce my amlodipine?"))
    assert res.outcome["approval"] == "pending"
    (a,) = approvals.pending(env.store, care_team=TEAM)
    return a.id


def test_every_tool_is_typed_and_clinical_is_never_autonomous() -> None:
    assert {t.action_class for t in TOOLS.values()} == set(ActionClass)
    clinical = {n for n, t in TOOLS.items() if t.action_class is ActionClass.CLINICAL}
    assert clinical == {"propose_medication_change", "apply_medication_change"}
    assert ActionClass.CLINICAL not in AUTONOMOUS
    for t in TOOLS.values():
        assert t.input_model.model_json_schema()["properties"]["person_id"]


def test_pending_approval_survives_a_restart_and_a_clinician_decides(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    aid = _propose(env)
    env.store.close()
    reopened = CareStore.open(Settings(data_dir=tmp_path))
    (a,) = approvals.pending(reopened, care_team=TEAM)
    assert (a.id, a.status, a.action["change"], a.action["drug"]) == (
        aid,
        "pending",
        "review",
        "amlodipine",
    )
    agent = Principal("agent-home-care", Role.AGENT, care_team=TEAM, on_behalf_of="nurse-kim")
    with pytest.raises(PolicyDenied):
        approvals.decide(reopened, aid, by=agent, approve=True, reason="self-approval")
    done = approvals.decide(reopened, aid, by=CLINICIAN, approve=True, reason="ok, halve it")
    assert (done.status, done.decided_by) == ("approved", "dr-park")
    assert approvals.pending(reopened) == []


def test_apply_refused_without_approval_then_runs_once_after_approval(env: Env) -> None:
    aid = _propose(env)
    person = pid(SC["id"])
    run = env.agents.rt.start("home-care", "apply", person_id=person, inputs={})
    with pytest.raises(PolicyDenied, match="pending, not approved"):
        run.call("apply_medication_change", person_id=person, approval_id=aid)
    with pytest.raises(PolicyDenied, match="no approval"):
        run.call("apply_medication_change", person_id=person, approval_id=aid + 99)
    approvals.decide(env.store, aid, by=CLINICIAN, approve=True, reason="reviewed")
    out = run.call("apply_medication_change", person_id=person, approval_id=aid)
    assert out.model_dump()["status"] == "executed"
    with pytest.raises(PolicyDenied, match="executed, not approved"):
        run.call("apply_medication_change", person_id=person, approval_id=aid)
    res = run.finish("test", {})
    assert [s["outcome"] for s in res.steps] == ["refused", "refused", "done", "refused"]


def test_every_step_is_in_the_run_table_and_the_governance_audit(env: Env, tmp_path: Path) -> None:
    person = enrol(env, {"id": "rt-2", "conditions": ["af"]})
    env.agents.home_message(Report(person, at("1 09:00"), "My face is drooping"))
    with env.store.session() as s:
        (run,) = s.scalars(select(AgentRun)).all()
        assert (run.agent, run.status, run.person_id) == ("stroke", "done", person)
        assert run.rationale.startswith("BE-FAST signs reported: face")
        assert [st["tool"] for st in run.steps] == ["escalate", "message_patient"]
        assert run.steps[0]["input"]["level"] == "emergency" and run.steps[0]["why"]
        assert run.outcome["escalated"] == "emergency" and run.outcome["last_known_well"] is None
        (task,) = s.scalars(select(Task)).all()
        assert task.priority == "high" and "last known well: unknown" in task.title
    entries = [json.loads(line) for line in
               (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()]  # fmt: skip
    agent = [e for e in entries if e["kind"] == "agent"]
    assert [e["detail"]["action"] for e in agent] == [
        "tool:escalate",
        "tool:message_patient",
        "run:finish",
    ]
    assert all(PSEUDONYM.match(s) for e in agent for s in e["subjects"])
    assert agent[0]["detail"]["on_behalf_of"] == "nurse-kim"
    assert agent[0]["actor"] == "agent-stroke"
    assert any(e.get("policy_id") == "care.agent.home" for e in entries)


def test_policy_denies_an_agent_without_a_team_member(env: Env) -> None:
    rt = AgentRuntime(env.store, env.governed, care_team=TEAM, on_behalf_of="")
    with pytest.raises(PolicyDenied):
        rt.start("home-care", "x", person_id=None, inputs={})


def test_tool_input_is_validated_and_team_is_checked(env: Env) -> None:
    person = enrol(env, {"id": "rt-3"})
    run = env.agents.rt.start("home-care", "x", person_id=person, inputs={})
    with pytest.raises(InputError, match="escalate") as exc:
        run.call("escalate", person_id=person, level="whenever", reason="x")
    assert exc.value.field == "level"
    with pytest.raises(InputError):
        run.call("message_patient", person_id="P-000123", template="ack")
    env.store.enrol(pid("other"), care_team="south-2", by="nurse-lee")
    with pytest.raises(PolicyDenied, match="care team"):
        run.call("patient_summary", person_id=pid("other"))


def test_triage_and_coordinator_rank_the_team_worklist(env: Env) -> None:
    from axhub.care.intake import ingest_messages

    a, b = pid("tri-a"), pid("tri-b")
    for p in (a, b):
        env.store.enrol(p, care_team=TEAM, conditions=["diabetes"], by="nurse-kim")
    now = at("1 14:00")
    msgs = [
        {"reading_id": "a1", "person_id": a, "kind": "glucose", "value": 200, "unit": "mg/dL",
         "effective_at": now.isoformat()},
        {"reading_id": "b1", "person_id": b, "kind": "glucose", "value": 50, "unit": "mg/dL",
         "effective_at": now.isoformat()},
    ]  # fmt: skip
    res = ingest_messages(env.store, msgs, now=now)
    runs = env.agents.on_intake(res.alerts, res.new_reading_ids, now)
    triage = {r.outcome["alert_id"]: r.outcome["priority"] for r in runs if "priority" in r.outcome}
    assert sorted(triage.values()) == ["high", "low"]
    _propose(env)
    result, items = env.agents.coordinate(at("1 15:00"), language="en")
    assert items[0]["person_id"] == b and items[0]["label"] == "urgent"
    assert {i["kind"] for i in items} == {"alert", "task", "approval"}
    assert result.outcome["counts"]["approval"] == 1
    assert "1 pending approvals" in result.outcome["summary"]
