"""Operator tool for the demo: care teams, enrolments, home readings, an agent proposal, tokens.

Run once on a data folder that holds an integrated zone (``axhub governance deidentify``).
It acts as the people who would do this in the region: a public-health-centre clinician picks
people with hypertension or diabetes from their own site's records (a governed, audited
treatment read), an operator sets the care teams' rosters, the care service enrols them and
receives their home readings, an agent proposes an action, and the hub issues one token per
demo role. Readings are synthetic demo values from a seeded generator, not clinical data.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from axhub.api.auth import TokenTable
from axhub.api.hub import Hub, kcd_groups
from axhub.config import Settings
from axhub.governance.principals import Principal, Project, Role
from axhub.governance.purposes import Purpose

log = logging.getLogger(__name__)

TEAMS = {"north-1": 8, "south-1": 3}  # care team -> people enrolled
ENROLLING_SITE = "phc"  # the public health centre runs home care (docs/synth.md sites)
DEMO_PROJECT = "demo-api"


@dataclass
class SeedReport:
    tokens: dict[str, str] = field(default_factory=dict)  # label -> token (shown once)
    enrolled: dict[str, list[str]] = field(default_factory=dict)  # team -> person ids
    readings: int = 0
    alerts: int = 0
    approvals: int = 0


def _pick_people(hub: Hub, site: str, n: int) -> list[str]:
    """Oldest people with hypertension or diabetes among the site's records (governed read)."""
    clin = Principal("demo-phc-nurse-lead", Role.CLINICIAN, site=site)
    cats = [*kcd_groups()["hypertension"]["categories"], *kcd_groups()["diabetes"]["categories"]]
    listed = ", ".join(f"'{c}'" for c in cats)
    table = hub.store.query(
        clin, "treatment",
        f"""WITH c AS (SELECT DISTINCT person_id FROM resources WHERE resource_type = 'Condition'
                 AND list_has_any(list_transform(json_extract_string(resource,
                     '$.code.coding[*].code'), lambda x: left(x, 3)), [{listed}]))
            SELECT p.person_id FROM resources p JOIN c USING (person_id)
            WHERE p.resource_type = 'Patient'
            GROUP BY p.person_id
            ORDER BY min(json_extract_string(p.resource, '$.birthDate')), p.person_id
            LIMIT {int(n)}""",
        ["Patient", "Condition"],
    )  # fmt: skip
    return [str(x) for x in table.column("person_id").to_pylist()]


def _readings(person_id: str, rng: np.random.Generator, now: dt.datetime, high: bool) -> list:
    """14 days of morning BP, glucose and weight readings (synthetic demo values)."""
    out = []
    base_sbp, base_glu, base_wt = rng.normal(132, 8), rng.normal(125, 15), rng.normal(62, 8)
    for day in range(14, 0, -1):
        at = (now - dt.timedelta(days=day)).replace(hour=22, minute=0, second=0, microsecond=0)
        sbp = base_sbp + rng.normal(0, 6) + (55 if high and day <= 2 else 0)
        dbp = sbp * 0.6 + rng.normal(0, 4)
        glu = base_glu + rng.normal(0, 12)
        wt = base_wt + rng.normal(0, 0.3)
        for kind, v, v2, unit in (
            ("bp", round(sbp), round(dbp), "mmHg"),
            ("glucose", round(glu), None, "mg/dL"),
            ("weight", round(wt, 1), None, "kg"),
        ):
            out.append({
                "reading_id": f"demo/{person_id[:12]}/{at:%Y%m%d}/{kind}",
                "person_id": person_id, "kind": kind, "value": v, "value2": v2, "unit": unit,
                "effective_at": at.isoformat(), "device_id": f"demo-{kind}",
            })  # fmt: skip
    return out


def seed_demo(settings: Settings, *, seed: int | None = None) -> SeedReport:
    """Set up the demo care teams and tokens on ``settings.data_dir`` (idempotent per team)."""
    from axhub.care.intake import ingest_messages
    from axhub.care.models import Approval
    from axhub.governance.stewardship import StewardStore

    rng = np.random.default_rng(settings.seed if seed is None else seed)
    steward = StewardStore(settings)
    hub = Hub(settings, steward, TokenTable.open(settings))
    operator = Principal("demo-operator", Role.OPERATOR)
    steward.register_project(
        operator,
        Project(
            DEMO_PROJECT, "DRB-DEMO-API-0001", frozenset({Purpose.RESEARCH}),
            frozenset({"Patient", "Condition", "MedicationRequest", "Encounter"}),
            dt.datetime(2099, 12, 31, tzinfo=dt.UTC), 1.0,
        ),
    )  # fmt: skip
    report = SeedReport()
    people = _pick_people(hub, ENROLLING_SITE, sum(TEAMS.values()))
    now = dt.datetime.now(dt.UTC)
    start = 0
    messages = []
    for team, n in TEAMS.items():
        members = people[start : start + n]
        start += n
        steward.set_roster(operator, team, members)
        for pid in members:
            hub.care.enrol(pid, care_team=team, conditions=["hypertension"], by="demo-operator",
                           schedule={"bp": 1})  # fmt: skip
        report.enrolled[team] = members
        for i, pid in enumerate(members):
            messages.extend(_readings(pid, rng, now, high=i == 0))
    result = ingest_messages(hub.care, messages, source="demo", now=now)
    report.readings, report.alerts = result.stored, len(result.alerts)
    first = report.enrolled["north-1"][0]
    with hub.care.session() as s:
        waiting = s.scalars(
            select(Approval).where(Approval.person_id == first, Approval.status == "pending")
        ).first()
    if waiting is None:
        _propose(hub, first)
        report.approvals = 1
    report.tokens = issue_demo_tokens(hub.tokens)
    log.info("demo seeded: %d readings, %d alert changes", report.readings, report.alerts)
    return report


def _propose(hub: Hub, first: str) -> None:
    """An agent run waiting for a care manager's approval, and the person's care plan."""
    from axhub.care.models import AgentRun, Approval, CarePlan

    with hub.care.session() as s:
        run = AgentRun(
            agent="home-bp-agent", person_id=first, trigger="alert bp.severe_unconfirmed",
            status="waiting", inputs={"readings": 14},
            rationale="Two evening readings above 180 mmHg systolic in 2 days; the care plan "
            "asks for a nurse call and a repeat measurement (docs/care.md §4).",
        )  # fmt: skip
        s.add(run)
        s.flush()
        s.add(Approval(
            agent_run_id=run.id, person_id=first, action_class="contact",
            action={"summary": "Schedule a nurse phone call today and ask for a repeat BP",
                    "summary_ko": "오늘 간호사 전화 상담을 잡고 혈압 재측정을 요청",
                    "summary_en": "Schedule a nurse phone call today and ask for a repeat BP"},
            rationale="Severe BP reading needs confirmation by a repeat measurement (REF_3).",
        ))  # fmt: skip
        s.add(CarePlan(
            person_id=first, title="Home blood pressure", author="demo-operator",
            goals={"home_bp_mean": "< 135/85 mmHg (KSH home BP target)"},
            activities={"bp": "1 reading every evening", "visit": "nurse visit monthly"},
        ))  # fmt: skip


def issue_demo_tokens(tokens: TokenTable) -> dict[str, str]:
    """One token per demo role (re-issued each time: the old demo tokens stop working)."""
    out: dict[str, str] = {}
    issue = [
        ("care-manager", Principal("demo-cm-kim", Role.CARE_MANAGER, care_team="north-1"),
         ["care_at_home", "treatment"]),
        ("care-worker", Principal("demo-cw-lee", Role.CARE_WORKER, care_team="north-1"),
         ["care_at_home"]),
        ("care-worker-south", Principal("demo-cw-park", Role.CARE_WORKER, care_team="south-1"),
         ["care_at_home"]),
        ("device-gateway", Principal("demo-gateway", Role.AGENT, care_team="north-1",
                                     on_behalf_of="demo-cm-kim"), ["care_at_home"]),
        ("clinician", Principal("demo-dr-choi", Role.CLINICIAN, site=ENROLLING_SITE),
         ["treatment"]),
        ("researcher", Principal("demo-r-jung", Role.RESEARCHER, project_id=DEMO_PROJECT),
         ["research"]),
        ("analyst", Principal("demo-ph-han", Role.PUBLIC_HEALTH_ANALYST),
         ["public_health_statistics"]),
    ]  # fmt: skip
    for label, principal, purposes in issue:
        out[label] = tokens.issue(principal, purposes, label=label)
    return out
