"""Stroke pathway rules on hand-made people, and the governed run on a small region."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from axhub.clinical.features import (
    CONDITION_FLAGS,
    DRUG_FLAGS,
    governed_features,
    governed_views,
)
from axhub.clinical.stroke import audited_release, pathway, release_summary, totals
from axhub.governance.access import GovernedStore
from axhub.governance.principals import Principal, Role

from .clinical_region import PROJECT, region

BASE = {
    "district": "퇴계동",
    "district_en": "Toegye-dong",
    "urban": True,
    "sex": "female",
    "age_years": 55.0,
    "sbp_mmhg": 120.0,
    "dbp_mmhg": 75.0,
    "total_chol_mgdl": 213.0,
    "hdl_mgdl": 50.0,
    "ldl_mgdl": 60.0,
    "creatinine_mgdl": 0.8,
    "smoker_current": False,
}


def people(rows: list[dict]) -> pa.Table:
    flags = {
        **{f: False for f in CONDITION_FLAGS},
        **{f: False for f in DRUG_FLAGS},
        "prior_stroke_tia_te": False,
        "vascular_disease": False,
        "cvd_history": False,
        "diabetes": False,
        "antiplatelet_or_nsaid": False,
    }
    full = [{"person_id": f"p{i}", **BASE, **flags, **r} for i, r in enumerate(rows)]
    for r in full:
        r["prior_stroke_tia_te"] = r["prior_stroke"] or r["tia"]
    return pa.Table.from_pylist(full)


def by_id(table: pa.Table) -> dict[str, dict]:
    return {r["person_id"]: r for r in table.to_pylist()}


def test_primary_prevention_tiers_goff_worked_example() -> None:
    # Goff 2014 worked example: 55-year-old white woman, TC 213, HDL 50, SBP 120 untreated,
    # non-smoker, no diabetes -> 2.1 % (low); the same man -> 5.3 % (borderline).
    out = by_id(pathway(people([{}, {"sex": "male"}, {"age_years": 30.0}])))
    assert out["p0"]["ascvd_10y"] == pytest.approx(0.021, abs=0.0006)
    assert out["p0"]["risk_tier"] == "low"
    # the guideline truncates intermediate sums (5.3 %); the hub keeps full precision (0040)
    assert out["p1"]["ascvd_10y"] == pytest.approx(0.053, abs=0.0011)
    assert out["p1"]["risk_tier"] == "borderline"
    assert out["p2"]["risk_tier"] is None  # outside 40-79: not in the primary tiering


def test_tier_boundaries_follow_acc_aha_cutoffs() -> None:
    rows = [
        {"sex": "male", "age_years": a, "sbp_mmhg": s, "smoker_current": sm}
        for a in (45.0, 60.0, 70.0, 78.0)
        for s in (110.0, 150.0, 190.0)
        for sm in (False, True)
    ]
    out = pathway(people(rows))
    for r in out.to_pylist():
        p = r["ascvd_10y"]
        expected = (
            "low"
            if p < 0.05
            else "borderline"
            if p < 0.075
            else "intermediate"
            if p < 0.20
            else "high"
        )
        assert r["risk_tier"] == expected
    assert {r["risk_tier"] for r in out.to_pylist()} >= {"low", "intermediate", "high"}


def test_not_computable_tier_gives_the_reason() -> None:
    out = by_id(pathway(people([{"total_chol_mgdl": None, "hdl_mgdl": None}])))
    assert out["p0"]["risk_tier"] == "not computable"
    assert "total_chol_mgdl" in out["p0"]["risk_reason"]


def test_af_anticoagulation_gap_uses_sex_specific_thresholds() -> None:
    af = {"atrial_fibrillation": True, "age_years": 66.0}  # age 65-74: 1 point
    out = by_id(
        pathway(
            people(
                [
                    {**af, "sex": "male"},  # 1 point: no gap
                    {**af, "sex": "male", "hypertension": True},  # 2: gap
                    {**af, "sex": "female", "hypertension": False},  # 2 (sex + age): no gap
                    {**af, "sex": "female", "hypertension": True},  # 3: gap
                    {**af, "sex": "female", "hypertension": True, "oral_anticoagulant": True},
                ]
            )
        )
    )
    assert [out[f"p{i}"]["cha2ds2vasc"] for i in range(5)] == [1, 2, 2, 3, 3]
    assert [out[f"p{i}"]["af_oac_gap"] for i in range(5)] == [False, True, False, True, False]
    assert out["p1"]["hasbled_context"].startswith("HAS-BLED")
    assert out["p0"]["hasbled_context"].startswith("HAS-BLED not computable: needs")


def test_tia_without_clinical_features_needs_triage() -> None:
    out = by_id(pathway(people([{"tia": True}, {}])))
    assert out["p0"]["abcd2_band"] == "not computable"
    assert out["p0"]["tia_needs_triage"] is True
    assert "tia_unilateral_weakness" in out["p0"]["abcd2_reason"]
    assert out["p1"]["tia_needs_triage"] is False


def test_secondary_prevention_targets() -> None:
    s = {"prior_stroke": True, "antiplatelet": True, "statin": True}
    out = by_id(
        pathway(
            people(
                [
                    {**s, "sbp_mmhg": 129.0, "dbp_mmhg": 79.0, "ldl_mgdl": 69.0},  # at target
                    {**s, "sbp_mmhg": 130.0, "dbp_mmhg": 70.0, "ldl_mgdl": 70.0},  # both gaps
                    {**s, "sbp_mmhg": 120.0, "dbp_mmhg": 80.0, "ldl_mgdl": None},  # DBP gap
                    {"prior_stroke": True},  # no antithrombotic, no statin
                    {"prior_stroke": True, "oral_anticoagulant": True, "statin": True},
                ]
            )
        )
    )
    assert (out["p0"]["secondary_bp_gap"], out["p0"]["secondary_ldl_gap"]) == (False, False)
    assert (out["p1"]["secondary_bp_gap"], out["p1"]["secondary_ldl_gap"]) == (True, True)
    assert out["p2"]["secondary_bp_gap"] is True
    assert out["p2"]["secondary_ldl_gap"] is False and out["p2"]["secondary_ldl_measured"] is False
    assert out["p3"]["secondary_antithrombotic_gap"] and out["p3"]["secondary_statin_gap"]
    assert not out["p4"]["secondary_antithrombotic_gap"]


def test_release_hides_small_cells() -> None:
    rows = [{"district_en": "Toegye-dong"}] * 25 + [{"district_en": "Nam-myeon"}] * 3
    summary = release_summary(pathway(people(rows)))
    t = {(r["district"], r["risk_tier"]): r["n"] for r in summary.tiers.to_pylist()}
    assert t[("(total)", "(total)")] == 28
    assert t[("Nam-myeon", "low")] is None  # 3 people: hidden
    assert summary.hidden_cells > 0
    for r in summary.tiers.to_pylist() + summary.gaps.to_pylist():
        assert r["n"] is None or r["n"] == 0 or r["n"] >= 10


@pytest.mark.slow
def test_governed_pathway_matches_research_features_and_is_audited() -> None:
    reg = region()
    store = GovernedStore(reg.settings)
    me = Principal("r-test", Role.RESEARCHER, project_id=PROJECT)
    feats = governed_features(store, me, "research")
    # Same builder over the same records: the governed and research tables agree in aggregate.
    q = (
        "SELECT count(*), count(sbp_mmhg), count(total_chol_mgdl), sum(atrial_fibrillation::INT),"
        " sum(prior_stroke::INT), sum(statin::INT), round(sum(coalesce(ldl_mgdl, 0)), 3) FROM t"
    )

    def agg(table: pa.Table) -> tuple:
        con = duckdb.connect()
        con.register("t", table)
        try:
            return tuple(con.sql(q).fetchall()[0])
        finally:
            con.close()

    assert agg(feats) == agg(reg.research)
    findings = pathway(feats)
    assert findings.num_rows == feats.num_rows
    t = totals(findings)
    assert t["persons"] == feats.num_rows and t["prior_stroke"] > 0
    log = reg.settings.data_dir / "audit" / "audit.jsonl"

    def releases() -> list[dict]:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [e for e in entries if e.get("kind") == "release"]

    before = len(releases())
    audited_release(store, me, "research", findings)
    after = releases()
    assert len(after) == before + 1
    assert after[-1]["detail"]["what"] == "stroke pathway by district"


@pytest.mark.slow
def test_stroke_cli_and_demo_sections(tmp_path) -> None:
    from axhub.cli.main import app
    from axhub.clinical.demo_sections import stroke_demo_sections

    reg = region()
    out = tmp_path / "findings.parquet"
    res = CliRunner().invoke(
        app,
        [
            "stroke",
            "--data-dir",
            str(reg.settings.data_dir),
            "--project",
            PROJECT,
            "--user",
            "r-test",
            "--out",
            str(out),
        ],
        env={"AXHUB_DATA_DIR": str(reg.settings.data_dir)},
    )
    assert res.exit_code == 0, res.output
    assert "by district" in res.output and out.is_file()
    sections = stroke_demo_sections(reg.settings)
    me = Principal("demo-researcher", Role.RESEARCHER, project_id="demo-clinical")
    views = governed_views(GovernedStore(reg.settings), me, "research")
    assert stroke_demo_sections(reg.settings, views=views) == sections
    assert sections[0].title.startswith("primary prevention")
    assert len(sections[0].rows) >= 2  # districts and the total row
    region_rows = sections[-1].rows
    assert len(region_rows) == 6 and all(len(r) == 3 for r in region_rows)
    denied = CliRunner().invoke(
        app, ["stroke", "--data-dir", str(reg.settings.data_dir), "--role", "public_health_analyst"]
    )
    assert denied.exit_code != 0
