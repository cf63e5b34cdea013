"""What the demo prints for the clinical part: risk tiers by district and stroke care gaps.

Reads through the governed access path as a researcher on an approved project (purpose
``research``) and releases only suppressed per-district counts (cells 1–9 hidden).  The
project must be registered first by an operator tool (the demo):
``StewardStore(settings).register_project(operator, demo_project())``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from axhub.config import Settings

if TYPE_CHECKING:
    from axhub.demo import Section
    from axhub.governance.principals import Project

DEMO_PROJECT = "demo-clinical"
DEMO_SCOPE = ("Patient", "Condition", "Observation", "MedicationRequest", "Encounter")


def demo_project(project_id: str = DEMO_PROJECT) -> Project:
    """The research project the demo registers (as an operator, with ``StewardStore``) before
    calling :func:`stroke_demo_sections`; clinical code itself never registers projects."""
    from axhub.governance.principals import Project
    from axhub.governance.purposes import Purpose

    return Project(
        project_id,
        "DRB-DEMO-0001",
        frozenset({Purpose.RESEARCH, Purpose.AI_TRAINING}),
        frozenset(DEMO_SCOPE),
        dt.datetime(2099, 12, 31, tzinfo=dt.UTC),
        1.0,
    )


def _cell(v: Any) -> str:
    return "<10" if v is None else f"{v:,}"


def stroke_demo_sections(
    settings: Settings,
    project_id: str = DEMO_PROJECT,
    views: Mapping[str, pa.Table] | None = None,
) -> list[Section]:
    """Sections: risk tiers by district, care gaps by district, region totals (all released).

    ``views``: the bundled view tables already read through the governed path by the same
    researcher (the demo's views step); without them they are read here.
    """
    from axhub.clinical.features import build_features, governed_features
    from axhub.clinical.stroke import GAP_COLUMNS, GAP_LABELS, TIER_ORDER, audited_release, pathway
    from axhub.demo import Section
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal, Role

    store = GovernedStore(settings)
    me = Principal("demo-researcher", Role.RESEARCHER, project_id=project_id)
    if views is not None:
        features = build_features(views)
    else:
        features = governed_features(store, me, "research")
    findings = pathway(features)
    released = audited_release(store, me, "research", findings)

    tiers: dict[str, dict[str, Any]] = {}
    t = released.tiers
    for d, tier, n in zip(
        t.column("district").to_pylist(),
        t.column("risk_tier").to_pylist(),
        t.column("n").to_pylist(),
        strict=True,
    ):
        tiers.setdefault(d, {})[tier] = n
    order = [*sorted(k for k in tiers if k != "(total)"), "(total)"]
    tier_rows = [[d, *(_cell(tiers[d].get(x)) for x in (*TIER_ORDER, "(total)"))] for d in order]

    gaps: dict[str, dict[str, Any]] = {}
    g = released.gaps
    for d, finding, n in zip(
        g.column("district").to_pylist(),
        g.column("finding").to_pylist(),
        g.column("n").to_pylist(),
        strict=True,
    ):
        gaps.setdefault(d, {})[finding] = n
    gap_rows = [[d, *(_cell(gaps[d].get(x)) for x in GAP_COLUMNS)] for d in order if d in gaps]
    totals_row = gaps.get("(total)", {})
    eligible = {
        f: e
        for f, d, e in zip(
            g.column("finding").to_pylist(),
            g.column("district").to_pylist(),
            g.column("eligible").to_pylist(),
            strict=True,
        )
        if d == "(total)"
    }
    return [
        Section(
            "primary prevention: 10-year ASCVD risk tiers by district (people 40–79 without "
            "CVD; ACC/AHA 2019 <5 / 5–7.5 / 7.5–20 / ≥20 %)",
            ["district", *TIER_ORDER, "total"],
            tier_rows,
            note="released counts: cells 1–9 and complementary cells shown as <10",
        ),
        Section(
            "stroke pathway care gaps by district",
            ["district", *GAP_COLUMNS],
            gap_rows,
            note="released counts: cells 1–9 and complementary cells shown as <10",
        ),
        Section(
            "stroke pathway care gaps, region",
            ["finding", "people with the gap", "eligible"],
            [
                [GAP_LABELS[f], _cell(totals_row.get(f)), _cell(eligible.get(f))]
                for f in GAP_COLUMNS
            ],
        ),
    ]


def findings_table(settings: Settings, project_id: str = DEMO_PROJECT) -> pa.Table:
    """Person-level pathway findings under the demo project's pseudonyms (for notebooks)."""
    from axhub.clinical.features import governed_features
    from axhub.clinical.stroke import pathway
    from axhub.governance.access import GovernedStore
    from axhub.governance.principals import Principal, Role

    store = GovernedStore(settings)
    me = Principal("demo-researcher", Role.RESEARCHER, project_id=project_id)
    return pathway(governed_features(store, me, "research"))
