"""The four care agents on the runtime: home-care, triage, care-coordinator and stroke.

- **home-care** (per enrolment): on each batch of readings (the alert changes intake returned)
  and once a day; also reads the person's messages (dose-change requests become approvals,
  missed doses reminders, red-flag words escalations; a request not to call never cancels an
  escalation);
- **triage** (per alert): worklist priority as a task for the alert;
- **care-coordinator** (per care team): ranked worklist, pending approvals, daily summary;
- **stroke**: a BE-FAST report, or a sudden severe BP rise, escalates as an emergency at once,
  with the last-known-well time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from axhub.agents import approvals, planner, signs
from axhub.agents.runtime import AgentRuntime, Plan, Run, RunResult
from axhub.agents.tools import RiskOut, SummaryOut
from axhub.care import alerts, tasks
from axhub.care.models import Message, Reading, Task
from axhub.care.monitoring import AlertChange
from axhub.care.rules import SEVERITY_RANK

#: ACCAHA2025 severe hypertension (> 180 and/or > 120 mmHg)
SEVERE_SYS, SEVERE_DIA = 180.0, 120.0
#: KSH / ESH2023 home BP target (mean >= 135/85 = uncontrolled)
HOME_SYS, HOME_DIA = 135.0, 85.0
#: DESIGN: "sudden" = the previous reading within this window was at or under the home target
SUDDEN_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Report:
    """Something a person (or a family carer) sent: free text and/or symptom names."""

    person_id: str
    at: datetime
    text: str = ""
    symptoms: tuple[str, ...] = ()
    last_known_well: datetime | None = None


def _act(run: Run, plan: Plan) -> None:
    for c in plan.calls:
        run.call(c.tool, c.why, **c.args)


class CareAgents:
    """The agents of one care team, sharing one runtime."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.rt = runtime
        self.store = runtime.store

    # -- stroke ----------------------------------------------------------------------------
    def stroke_report(self, report: Report) -> RunResult | None:
        """BE-FAST signs → emergency escalation now, with last-known-well; else None."""
        letters = signs.befast(list(report.symptoms), report.text)
        if not letters:
            return None
        run = self.rt.start("stroke", "befast_report", person_id=report.person_id,
                            inputs={"signs": letters, "at": report.at}, now=report.at)  # fmt: skip
        lkw = report.last_known_well or self._last_well(report.person_id, report.at)
        plan = Plan(f"BE-FAST signs reported: {', '.join(letters)} (Aroor 2017)")
        plan.add(
            "escalate",
            "possible stroke: emergency at once",
            person_id=report.person_id,
            level="emergency",
            reason=f"BE-FAST: {', '.join(letters)}",
            last_known_well=lkw,
        )
        plan.add(
            "message_patient",
            "call 119 and note the onset time",
            person_id=report.person_id,
            template="stroke_119",
        )
        _act(run, plan)
        return run.finish(plan.rationale, {"escalated": "emergency", "befast": letters,
                                           "last_known_well": lkw})  # fmt: skip

    def stroke_bp(
        self, person_id: str, reading_ids: Sequence[str], now: datetime
    ) -> RunResult | None:
        """A severe BP reading right after one at or under the home target: emergency now."""
        with self.store.session() as s:
            new = s.execute(
                select(Reading.norm_value, Reading.norm_value2, Reading.effective_s)
                .where(Reading.reading_id.in_(list(reading_ids)), Reading.kind == "bp",
                       Reading.implausible.is_(False), Reading.person_id == person_id)
                .order_by(Reading.effective_s)
            ).all()  # fmt: skip
            severe = [r for r in new if r[0] > SEVERE_SYS or (r[1] or 0) > SEVERE_DIA]
            if not severe:
                return None
            sys_, dia, t = severe[0]
            prev = s.execute(
                select(Reading.norm_value, Reading.norm_value2, Reading.effective_s)
                .where(Reading.person_id == person_id, Reading.kind == "bp",
                       Reading.implausible.is_(False), Reading.effective_s < t,
                       Reading.effective_s >= t - int(SUDDEN_WINDOW.total_seconds()))
                .order_by(Reading.effective_s.desc()).limit(1)
            ).first()  # fmt: skip
        if prev is None or prev[0] >= HOME_SYS or (prev[1] or 0) >= HOME_DIA:
            return None
        lkw = datetime.fromtimestamp(prev[2], tz=now.tzinfo)
        run = self.rt.start(
            "stroke",
            "sudden_bp_rise",
            person_id=person_id,
            inputs={"bp": [sys_, dia], "previous": [prev[0], prev[1]]},
            now=now,
        )
        plan = Plan(
            f"sudden severe BP rise: {prev[0]:.0f}/{prev[1] or 0:.0f} -> "
            f"{sys_:.0f}/{dia or 0:.0f} (ACCAHA2025 severe; sudden = DESIGN)"
        )
        plan.add(
            "escalate",
            "sudden severe BP rise: emergency at once",
            person_id=person_id,
            level="emergency",
            reason="sudden severe BP rise",
            last_known_well=lkw,
        )
        plan.add(
            "message_patient",
            "repeat the measurement while the team calls",
            person_id=person_id,
            template="remeasure_bp",
        )
        _act(run, plan)
        return run.finish(plan.rationale, {"escalated": "emergency", "last_known_well": lkw})

    def _last_well(self, person_id: str, before: datetime) -> datetime | None:
        """Last plausible reading without symptoms before the report (else unknown)."""
        with self.store.session() as s:
            rows = s.execute(
                select(Reading.effective_s, Reading.context)
                .where(Reading.person_id == person_id, Reading.implausible.is_(False),
                       Reading.effective_s < int(before.timestamp()))
                .order_by(Reading.effective_s.desc()).limit(20)
            ).all()  # fmt: skip
        for t, ctx in rows:
            if not (ctx or {}).get("symptoms"):
                return datetime.fromtimestamp(t, tz=before.tzinfo)
        return None

    # -- home care -------------------------------------------------------------------------
    def on_intake(
        self, changes: Sequence[AlertChange], reading_ids: Sequence[str], now: datetime
    ) -> list[RunResult]:
        """Run the stroke, home-care and triage agents on what one intake batch produced."""
        results: list[RunResult] = []
        by_person: dict[str, list[AlertChange]] = {}
        for c in changes:
            if c.care_team == self.rt.care_team:
                by_person.setdefault(c.person_id, []).append(c)
        persons = set(by_person) | self._persons_of(reading_ids)
        for pid in sorted(persons):
            escalated = False
            for rep in self._symptom_reports(pid, reading_ids):
                r = self.stroke_report(rep)
                if r is not None:
                    results.append(r)
                    escalated = True
            if not escalated:
                r = self.stroke_bp(pid, reading_ids, now)
                if r is not None:
                    results.append(r)
                    escalated = True
            mine = [c for c in by_person.get(pid, []) if c.notify]
            if mine:
                results.append(self.home_readings(pid, mine, now, escalated=escalated))
                for c in mine:
                    results.append(self.triage(c.alert_id, now))
        return results

    def _persons_of(self, reading_ids: Sequence[str]) -> set[str]:
        if not reading_ids:
            return set()
        with self.store.session() as s:
            return {
                p for (p,) in s.execute(
                    select(Reading.person_id).where(Reading.reading_id.in_(list(reading_ids)))
                ).all()
                if self._on_team(p)
            }  # fmt: skip

    def _on_team(self, person_id: str) -> bool:
        return self.store.enrolment(person_id).care_team == self.rt.care_team

    def _symptom_reports(self, person_id: str, reading_ids: Sequence[str]) -> list[Report]:
        with self.store.session() as s:
            rows = s.execute(
                select(Reading.effective_at, Reading.context)
                .where(Reading.reading_id.in_(list(reading_ids)), Reading.person_id == person_id)
            ).all()  # fmt: skip
        out = []
        for at, ctx in rows:
            sym = [str(x) for x in (ctx or {}).get("symptoms", [])]
            if sym:
                out.append(Report(person_id, at, symptoms=tuple(sym)))
        return out

    def home_readings(
        self,
        person_id: str,
        changes: Sequence[AlertChange],
        now: datetime,
        *,
        escalated: bool = False,
    ) -> RunResult:
        run = self.rt.start(
            "home-care",
            "readings",
            person_id=person_id,
            inputs={"alerts": [c.to_dict() for c in changes]},
            now=now,
        )
        run.call("patient_summary", "observe: recent readings and open alerts", person_id=person_id)
        plan = planner.plan_alerts(person_id, [c.to_dict() for c in changes], escalated=escalated)
        _act(run, plan)
        done = run.steps
        level = next((st["input"]["level"] for st in done if st["tool"] == "escalate"), None)
        return run.finish(
            plan.rationale, {"escalated": level or ("emergency" if escalated else None)}
        )

    def home_daily(self, person_id: str, now: datetime) -> RunResult:
        run = self.rt.start("home-care", "daily", person_id=person_id, inputs={}, now=now)
        summ = run.call("patient_summary", "observe: the day", person_id=person_id, days=1)
        assert isinstance(summ, SummaryOut)
        run.call("risk_scores", "observe: NEWS2 when vitals allow", person_id=person_id)
        n = sum(int(k["readings"]) for k in summ.kinds)
        run.call(
            "message_patient",
            "daily summary for the person",
            person_id=person_id,
            template="daily_summary",
            params={"readings": n, "alerts": len(summ.open_alerts)},
        )
        return run.finish("daily summary", {"readings": n, "open_alerts": len(summ.open_alerts)})

    def home_message(self, report: Report) -> RunResult:
        """A message from the person: escalate, propose, remind or acknowledge; never stand down."""
        with self.store.session() as s:
            s.add(
                Message(
                    person_id=report.person_id,
                    direction="in",
                    channel="app",
                    language=self.store.enrolment(report.person_id).language,
                    body=report.text,
                    status="received",
                    created_at=report.at,
                )
            )
        stroke = self.stroke_report(report)
        if stroke is not None:
            if signs.asks_stand_down(report.text):
                self._keep_escalation(report)
            return stroke
        pid, text = report.person_id, report.text
        run = self.rt.start(
            "home-care",
            "message",
            person_id=pid,
            inputs={"chars": len(text), "symptoms": list(report.symptoms)},
            now=report.at,
        )
        summ = run.call("patient_summary", "observe", person_id=pid)
        assert isinstance(summ, SummaryOut)
        flags = signs.red_flags(list(report.symptoms), text)
        plan = Plan("")
        outcome: dict[str, Any] = {"escalated": None}
        if flags:
            plan.rationale = f"red-flag symptoms reported: {', '.join(flags)} (reference §3)"
            plan.add(
                "escalate",
                "symptoms escalate regardless of numbers",
                person_id=pid,
                level="urgent",
                reason=f"reported {', '.join(flags)}",
                last_known_well=self._last_well(pid, report.at),
            )
            plan.add(
                "message_patient", "contact within hours", person_id=pid, template="urgent_contact"
            )
            outcome["escalated"] = "urgent"
        elif signs.asks_dose_change(text, summ.medications):
            drug = next(
                (m for m in summ.medications if m.lower() in text.lower()),
                summ.medications[0] if summ.medications else "unspecified",
            )
            plan.rationale = "the person asks to change a medicine: a clinician decides"
            plan.add(
                "propose_medication_change",
                "clinical change: never autonomous",
                person_id=pid,
                drug=drug,
                change="review",
                reason="patient asked to change a dose",
                current_drugs=summ.medications,
            )
            plan.add(
                "message_patient",
                "keep taking it as prescribed until reviewed",
                person_id=pid,
                template="dose_request",
            )
            outcome["approval"] = "pending"
        elif signs.reports_missed_dose(text):
            critical = signs.time_critical(summ.medications)
            plan.rationale = "missed dose reported" + (
                f"; time-critical: {', '.join(critical)} (reference §3.7)" if critical else ""
            )
            plan.add(
                "message_patient",
                "one missed dose: reminder (reference §3.7)",
                person_id=pid,
                template="medication_reminder",
            )
            if critical:
                plan.add(
                    "create_task",
                    "time-critical medicine: nurse contact",
                    person_id=pid,
                    kind="missed_medication",
                    title="Missed time-critical medicine",
                    priority="high",
                    due_in_minutes=120,
                )
        elif signs.asks_stand_down(text) and self._open_escalation(pid):
            plan.rationale = "asked not to be contacted after an escalation: it stands"
            plan.add(
                "message_patient",
                "the escalation is never cancelled by the person",
                person_id=pid,
                template="escalation_kept",
            )
            outcome["escalation_kept"] = True
        else:
            plan.rationale = "message acknowledged; the team reads it"
            plan.add("message_patient", "acknowledge", person_id=pid, template="ack")
        _act(run, plan)
        return run.finish(plan.rationale, outcome)

    def _open_escalation(self, person_id: str) -> bool:
        with self.store.session() as s:
            return s.scalar(
                select(Task.id).where(Task.person_id == person_id, Task.status == "open",
                                      Task.kind.like("escalation.%")).limit(1)
            ) is not None  # fmt: skip

    def _keep_escalation(self, report: Report) -> None:
        run = self.rt.start(
            "home-care",
            "stand_down_request",
            person_id=report.person_id,
            inputs={"chars": len(report.text)},
            now=report.at,
        )
        run.call(
            "message_patient",
            "the escalation stands",
            person_id=report.person_id,
            template="escalation_kept",
        )
        run.finish(
            "asked not to be contacted after BE-FAST signs: the escalation stands",
            {"escalation_kept": True},
        )

    # -- triage ----------------------------------------------------------------------------
    def triage(self, alert_id: int, now: datetime) -> RunResult:
        a = alerts.get(self.store, alert_id)
        run = self.rt.start("triage", f"alert:{alert_id}", person_id=a.person_id,
                            inputs={"alert_id": alert_id, "rule_id": a.rule_id,
                                    "severity": a.severity}, now=now)  # fmt: skip
        risk = run.call(
            "risk_scores", "NEWS2 can raise a warning's priority", person_id=a.person_id
        )
        assert isinstance(risk, RiskOut)
        priority, why = planner.triage_priority(a.severity, risk.news2)
        with self.store.session() as s:
            existing = s.scalar(
                select(Task.id).where(Task.alert_id == alert_id, Task.status == "open").limit(1)
            )
        if existing is None and a.severity not in ("emergency", "urgent"):
            run.call(
                "create_task",
                why,
                person_id=a.person_id,
                kind="triage",
                title=f"{a.title_en} / {a.title_ko}",
                priority=priority,
                due_in_minutes={"high": 60, "medium": 8 * 60, "low": 72 * 60}[priority],
                alert_id=alert_id,
            )
        return run.finish(why, {"priority": priority, "alert_id": alert_id, "news2": risk.news2})

    # -- coordinator -----------------------------------------------------------------------
    def coordinate(
        self, now: datetime, language: str = "ko"
    ) -> tuple[RunResult, list[dict[str, Any]]]:
        """Ranked worklist for the team (severity, then open tasks, then age) and a summary."""
        team = self.rt.care_team
        run = self.rt.start(
            "care-coordinator", f"team:{team}", person_id=None, inputs={"care_team": team}, now=now
        )
        open_alerts = alerts.worklist(self.store, care_team=team, now=now)
        open_t = tasks.open_tasks(self.store, care_team=team, now=now)
        pend = approvals.pending(self.store, care_team=team)
        #: tasks and approvals sit at the alert severity they stand for (care.md §4)
        task_level = {"high": SEVERITY_RANK["urgent"], "medium": SEVERITY_RANK["warning"],
                      "low": SEVERITY_RANK["info"]}  # fmt: skip
        items: list[dict[str, Any]] = []
        for a in open_alerts:
            items.append({"kind": "alert", "id": a.id, "person_id": a.person_id,
                          "what": a.rule_id, "level": SEVERITY_RANK.get(a.severity, 0),
                          "overdue": False, "label": a.severity,
                          "since": a.created_at.isoformat()})  # fmt: skip
        for t in open_t:
            items.append({"kind": "task", "id": t.id, "person_id": t.person_id, "what": t.kind,
                          "level": task_level.get(t.priority, 0), "overdue": t.overdue,
                          "label": t.priority + (" overdue" if t.overdue else ""),
                          "since": t.due_at.isoformat() if t.due_at else ""})  # fmt: skip
        for p in pend:
            items.append(
                {
                    "kind": "approval",
                    "id": p.id,
                    "person_id": p.person_id,
                    "what": f"{p.action.get('change')} {p.action.get('drug')}",
                    "level": SEVERITY_RANK["warning"],
                    "overdue": False,
                    "label": "pending approval",
                    "since": p.requested_at.isoformat(),
                }
            )
        items.sort(key=lambda i: (-i["level"], not i["overdue"], i["since"], i["kind"], i["id"]))
        persons = sorted({i["person_id"] for i in items})
        for pid in persons:
            run.steps.append(
                {
                    "tool": "worklist",
                    "class": "observe",
                    "why": "rank",
                    "input": {"person_id": pid},
                    "outcome": "done",
                }
            )
        run.runtime.governance.record_agent_action(
            run.ctx.agent,
            "care_at_home",
            "worklist",
            subjects=persons,
            detail={"run_id": run.run_id, "items": len(items)},
        )
        counts = {k: sum(1 for i in items if i["kind"] == k) for k in ("alert", "task", "approval")}
        urgent = sum(1 for a in open_alerts if a.severity in ("urgent", "emergency"))
        if language == "ko":
            fallback = (
                f"돌봄팀 {team}: 알림 {counts['alert']}건(긴급 이상 {urgent}건), "
                f"할 일 {counts['task']}건, 승인 대기 {counts['approval']}건."
            )
        else:
            fallback = (
                f"Team {team}: {counts['alert']} alerts ({urgent} urgent or emergency), "
                f"{counts['task']} tasks, {counts['approval']} pending approvals."
            )
        facts = "\n".join(f"{i['kind']} {i['what']} {i['label']}" for i in items[:30])
        written = self.rt.writer.summary(facts, fallback, language)
        res = run.finish(
            "ranked worklist and daily summary",
            {
                "counts": counts,
                "urgent": urgent,
                "summary": written.body,
                "summary_source": written.source,
            },
        )
        return res, items
