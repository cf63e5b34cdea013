"""The deterministic default planner: alert changes and reports → planned tool calls.

Pure functions of what the agent observed (no I/O, no model): the same observation always
gives the same plan.  The mapping follows the alert severities of docs/care.md §4 (sources in
``axhub.care.rules``): emergency → escalate (emergency) and tell the person to call 119;
urgent → escalate (urgent), contact within hours; warning → same-day task and advice;
info → advice only.  Rule-specific advice names its source in ``templates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from axhub.agents.runtime import Plan
from axhub.care.rules import SEVERITY_RANK

#: warning-level rules with their own message (others: same_day_review)
WARNING_MESSAGE = {
    "bp.severe_unconfirmed": "remeasure_bp",
    "glucose.hypo_l1": "hypo_check",
    "device.silent": "device_check",
    "adherence.missed": "measure_reminder",
    "weight.hf_gain": "televisit",
}
#: info-level rules with a message (others: none; the nurse sees them at the next contact)
INFO_MESSAGE = {
    "bp.home_uncontrolled": "info_trend",
    "glucose.hyper_l1": "info_trend",
    "adherence.missed": "measure_reminder",
}
#: HF decompensation: > 2 kg in 3 days -> contact the HF team (ESC_HFA2021): a tele-visit
TELEVISIT_RULES = {"weight.hf_gain": 24}
#: NEWS2 Chart 4 (RCP 2017): 5 or more = urgent review -> a warning is triaged high
NEWS2_URGENT = 5


def plan_alerts(person_id: str, changes: Sequence[dict[str, Any]], *, escalated: bool) -> Plan:
    """Actions for the alert changes of one person that call for a notification."""
    plan = Plan("")
    worst = max(changes, key=lambda c: SEVERITY_RANK.get(c["severity"], 0), default=None)
    if worst is None:
        plan.rationale = "no alert change to act on"
        return plan
    reasons = ", ".join(f"{c['rule_id']} ({c['severity']}, {c['change']})" for c in changes)
    plan.rationale = f"alert changes: {reasons}"
    sev, rule, aid = worst["severity"], worst["rule_id"], worst["alert_id"]
    if sev in ("emergency", "urgent"):
        if not escalated:
            plan.add(
                "escalate",
                f"{rule} is {sev} (care.md §4: never snoozed, escalate)",
                person_id=person_id,
                level=sev,
                reason=f"{rule} ({sev})",
                alert_id=aid,
            )
        if sev == "emergency":
            tpl = "call_119"
        else:
            tpl = "hypo_check" if rule.startswith("glucose.hypo") else "urgent_contact"
        plan.add(
            "message_patient",
            f"tell the person what happens next ({tpl})",
            person_id=person_id,
            template=tpl,
            alert_id=aid,
        )
        return plan
    for c in changes:
        cs, cr, cid = c["severity"], c["rule_id"], c["alert_id"]
        if cs == "warning":
            if cr in TELEVISIT_RULES:
                plan.add(
                    "schedule_televisit",
                    f"{cr}: contact the HF team (ESC_HFA2021)",
                    person_id=person_id,
                    within_hours=TELEVISIT_RULES[cr],
                    reason=cr,
                )
                plan.add(
                    "message_patient",
                    "tell the person a video visit is coming",
                    person_id=person_id,
                    template="televisit",
                    params={"hours": TELEVISIT_RULES[cr]},
                    alert_id=cid,
                )
                continue
            plan.add(
                "create_task",
                f"{cr} is a warning: same-day review (care.md §4)",
                person_id=person_id,
                kind="review",
                title=f"Same-day review: {cr}",
                priority="medium",
                due_in_minutes=8 * 60,
                alert_id=cid,
            )
            plan.add(
                "message_patient",
                f"advice for {cr}",
                person_id=person_id,
                template=WARNING_MESSAGE.get(cr, "same_day_review"),
                alert_id=cid,
            )
        elif cs == "info" and cr in INFO_MESSAGE:
            plan.add(
                "message_patient",
                f"{cr} is information only",
                person_id=person_id,
                template=INFO_MESSAGE[cr],
                alert_id=cid,
            )
    return plan


def triage_priority(severity: str, news2: int | None) -> tuple[str, str]:
    """Worklist priority for an alert and why (severity first, NEWS2 can raise a warning)."""
    if severity in ("emergency", "urgent"):
        return "high", f"{severity} alert (care.md §4)"
    if severity == "warning":
        if news2 is not None and news2 >= NEWS2_URGENT:
            return "high", f"warning with NEWS2 {news2} >= {NEWS2_URGENT} (RCP 2017 Chart 4)"
        return "medium", "warning alert: same-day review (care.md §4)"
    return "low", "information alert: next routine contact (care.md §4)"
